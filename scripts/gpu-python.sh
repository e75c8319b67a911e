#!/usr/bin/env bash
# The kiln Python package on a machine without pip's index or kiln's build
# dependencies (the GPU machine: python3.12 with numpy, g++, cmake, CUDA).
#
#   scripts/gpu-python.sh prepare DIR [BUILD]   # here: BUILD defaults to build
#   scripts/gpu-python.sh run DIR OUTDIR        # there
#
# prepare installs BUILD (cmake --install: libkiln.so, headers, CMake
# package) into DIR/prefix, fetches nanobind's wheel with pip (the only
# download: nanobind is sources), builds the extension module against that
# install for Python 3.12 (python/CMakeLists.txt: the runtime-only build;
# the Python 3.12 headers come from $PY312, else pyenv's 3.12, else
# python3.12 on PATH) and lays out DIR/pkg/kiln (__init__.py, _kiln*.so,
# libkiln.so beside it), plus the sources to build it again there
# (DIR/src: python/, nanobind) in case the prebuilt module does not load.
#
# run puts DIR/pkg on PYTHONPATH; if `import kiln` fails it builds the module
# there from DIR/src against DIR/prefix (with the machine's python3.12
# headers), then runs tests/python/test_gpu.py (copied into DIR) with the
# environment it needs: KILN_GPU_ARTIFACT, KILN_GPU_ONNX, KILN_TOKENIZER,
# KILN_BINARY, KILN_LIB must be set by the caller (or are found in DIR:
# model.kiln, model.onnx, tokenizer.json, bin/kiln). Output goes to OUTDIR.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}
DIR=${2:?usage: gpu-python.sh prepare DIR [BUILD] | run DIR OUTDIR}

case $cmd in
prepare)
  BUILD=${3:-$ROOT/build}
  PY=${PY312:-}
  if [[ -z $PY ]]; then
    for c in "$HOME/.pyenv/versions/3.12"*/bin/python3.12 "$(command -v python3.12 || true)"; do
      [[ -x $c ]] && "$c" -c 'import sysconfig, os; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' 2>/dev/null && {
        PY=$c
        break
      }
    done
  fi
  [[ -n $PY ]] || { echo "gpu-python.sh: no python3.12 with headers (set PY312)" >&2; exit 1; }
  rm -rf "$DIR" && mkdir -p "$DIR/src" "$DIR/pkg" "$DIR/wheels"
  DIR=$(cd "$DIR" && pwd)
  cmake --install "$BUILD" --prefix "$DIR/prefix" >/dev/null
  # kiln's C++ headers include LLVM Support's: take them along (4 MB) and
  # point the CMake package at the copy, so it builds where LLVM is not.
  LLVM_INC=$(sed -n 's/.*INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "\(.*\)".*/\1/p' \
    "$DIR/prefix/lib/cmake/kiln/kilnConfig.cmake")
  mkdir -p "$DIR/prefix/include/llvm-headers/llvm"
  for d in ADT Support Config Demangle; do
    cp -rL "$LLVM_INC/llvm/$d" "$DIR/prefix/include/llvm-headers/llvm/"
  done
  cp -rL "$LLVM_INC/llvm-c" "$DIR/prefix/include/llvm-headers/"
  sed -i "s|$LLVM_INC|\${_kiln_prefix}/include/llvm-headers|g" \
    "$DIR/prefix/lib/cmake/kiln/kilnConfig.cmake"
  "$ROOT/.venv/bin/python" -m pip download --quiet --no-deps --python-version 3.12 \
    --only-binary=:all: -d "$DIR/wheels" nanobind==3.1.0
  "$ROOT/.venv/bin/python" -m zipfile -e "$DIR/wheels"/nanobind-*.whl "$DIR/src/nb"
  cp -r "$ROOT/python" "$DIR/src/python"
  cmake -S "$DIR/src/python" -B "$DIR/build-py" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -Dkiln_DIR="$DIR/prefix/lib/cmake/kiln" -Dnanobind_DIR="$DIR/src/nb/nanobind/cmake" \
    -DPython_EXECUTABLE="$PY" >"$DIR/build-py.log" 2>&1 || { tail -30 "$DIR/build-py.log"; exit 1; }
  cmake --build "$DIR/build-py" >>"$DIR/build-py.log" 2>&1 || { tail -30 "$DIR/build-py.log"; exit 1; }
  cp -r "$DIR/build-py/kiln" "$DIR/pkg/kiln"
  cp "$DIR/prefix/lib/libkiln.so" "$DIR/pkg/kiln/"
  strip --strip-unneeded "$DIR/pkg/kiln/"*.so
  cp "$ROOT/tests/python/test_gpu.py" "$DIR/"
  rm -rf "$DIR/build-py" "$DIR/wheels" "$DIR/prefix/lib/libkiln.so"
  ln -s ../../pkg/kiln/libkiln.so "$DIR/prefix/lib/libkiln.so"
  echo "prepared $DIR for Python 3.12 ($("$PY" --version)): $(du -sh "$DIR" | cut -f1)"
  ;;
run)
  OUT=${3:?usage: gpu-python.sh run DIR OUTDIR}
  DIR=$(cd "$DIR" && pwd)
  mkdir -p "$OUT"
  PY=$(command -v python3.12 || command -v python3)
  export PYTHONPATH="$DIR/pkg${PYTHONPATH:+:$PYTHONPATH}"
  if ! "$PY" -c 'import kiln' 2>"$OUT/import.log"; then
    echo "the prebuilt module does not load ($(tail -1 "$OUT/import.log")); building it here"
    cmake -S "$DIR/src/python" -B "$DIR/build-here" -DCMAKE_BUILD_TYPE=Release \
      -Dkiln_DIR="$DIR/prefix/lib/cmake/kiln" -Dnanobind_DIR="$DIR/src/nb/nanobind/cmake" \
      -DPython_EXECUTABLE="$PY" >"$OUT/build-here.log" 2>&1 &&
      cmake --build "$DIR/build-here" -j 8 >>"$OUT/build-here.log" 2>&1 || {
      tail -30 "$OUT/build-here.log"
      exit 1
    }
    cp "$DIR/build-here/kiln/"_kiln*.so "$DIR/pkg/kiln/"
  fi
  export KILN_GPU_ARTIFACT=${KILN_GPU_ARTIFACT:-$DIR/model.kiln}
  export KILN_GPU_ONNX=${KILN_GPU_ONNX:-$DIR/model.onnx}
  export KILN_TOKENIZER=${KILN_TOKENIZER:-$DIR/tokenizer.json}
  export KILN_BINARY=${KILN_BINARY:-$DIR/bin/kiln}
  export KILN_LIB=${KILN_LIB:-$DIR/pkg/kiln/libkiln.so}
  "$PY" -c 'import kiln, sys; print("kiln from", kiln.__file__, "on", sys.version.split()[0])'
  "$PY" "$DIR/test_gpu.py" 2>&1 | tee "$OUT/test_gpu.txt"
  ;;
*)
  echo "usage: gpu-python.sh prepare DIR [BUILD] | run DIR OUTDIR" >&2
  exit 2
  ;;
esac
