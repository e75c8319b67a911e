# lit configuration for kiln's FileCheck tests.
#
# Tools come from $KILN_BUILD_DIR/bin (default: <repo>/build/bin). Run with
#   .venv/bin/lit tests/lit            (or KILN_BUILD_DIR=build-x .venv/bin/lit ...)
import os
import re

import lit.formats

config.name = "kiln"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".kir", ".test"]
config.excludes = ["Inputs"]

repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
build_dir = os.environ.get("KILN_BUILD_DIR") or os.path.join(repo_root, "build")
if not os.path.isabs(build_dir):
    build_dir = os.path.join(repo_root, build_dir)
tools_dir = os.path.join(build_dir, "bin")
llvm_bin = "/usr/lib/llvm-19/bin"

config.test_source_root = os.path.dirname(os.path.abspath(__file__))
config.test_exec_root = os.path.join(build_dir, "lit")

config.environment["PATH"] = os.pathsep.join(
    [tools_dir, llvm_bin, config.environment.get("PATH", os.environ.get("PATH", ""))])

config.substitutions.append(("%kiln-opt", os.path.join(tools_dir, "kiln-opt")))
config.substitutions.append(("%kiln", os.path.join(tools_dir, "kiln")))
config.substitutions.append(
    ("%FileCheck", os.path.join(llvm_bin, "FileCheck") + " --enable-var-scope"))
config.substitutions.append(("%python", os.path.join(repo_root, ".venv", "bin", "python")))

# Builds with the CUTLASS kernels (CMake found KILN_CUTLASS_DIR): the
# lowering emits CUTLASS GEMM steps only there.
if os.path.exists(os.path.join(build_dir, "CMakeFiles", "kiln_runtime.dir", "lib",
                               "runtime", "CutlassGemm.cu.o")):
    config.available_features.add("cutlass")

for tool in ("kiln-opt", "kiln"):
    if not os.path.exists(os.path.join(tools_dir, tool)):
        lit_config.warning("%s not found in %s (set KILN_BUILD_DIR)" % (tool, tools_dir))


def lint_check_directives(root):
    """FileCheck silently ignores a directive written without its colon
    (a CHECK or CHECK-NEXT prefix followed by a space): report those as
    errors."""
    directive = re.compile(r"(?://|#)\s*([A-Z][A-Z0-9_]*)((?:-[A-Z0-9]+)*)(:?)")
    suffixes = re.compile(r"^(|-NEXT|-SAME|-NOT|-LABEL|-DAG|-EMPTY|-COUNT-\d+)$")
    known_prefixes = set(["CHECK"])
    prefix_option = re.compile(r"--check-prefix(?:es)?[= ]([A-Za-z0-9_,-]+)")
    problems = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not any(name.endswith(s) for s in config.suffixes):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
            prefixes = set(known_prefixes)
            for line in lines:
                for m in prefix_option.finditer(line):
                    prefixes.update(m.group(1).split(","))
            for number, line in enumerate(lines, 1):
                for m in directive.finditer(line):
                    if (m.group(1) in prefixes and suffixes.match(m.group(2))
                            and not m.group(3)):
                        problems.append("%s:%d: FileCheck directive without ':': %s"
                                        % (path, number, line.strip()))
    return problems


for problem in lint_check_directives(config.test_source_root):
    lit_config.error(problem)
