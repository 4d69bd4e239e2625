#!/usr/bin/env bash
# The compiled build (platforms/compile.py), built and tested: in a venv of its own, the
# wheel is built with XLOOP_COMPILE=1 (compiled, or this fails) and installed with the test
# extra, and the suites run against it from a copy of tests/ (pytest started in the source
# tree would import the tree's xloop, not the installed one). `tox -e compiled` and .ci/run
# call this.
#
#   bash platforms/compiled.sh                      # server, HTTP, WebSocket, integration
#   bash platforms/compiled.sh -n 2 -q tests/cli    # any pytest arguments instead
#
# PYTHON picks the interpreter (python3 by default); needs a C compiler.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
bin="$work/venv/bin"
[ -d "$work/venv/Scripts" ] && bin="$work/venv/Scripts" # Windows
"$bin/python" -m pip install -q hatchling 'mypy>=1.11' 'setuptools>=70'
XLOOP_COMPILE=1 "$bin/python" -m hatchling build -t wheel -d "$work/dist" > /dev/null
wheel="$(ls "$work"/dist/*.whl)"
echo "-- built $(basename "$wheel")"
"$bin/python" -m pip install -q "$wheel[standard,test,zttp]"
mkdir "$work/src"
cp -r tests benchmarks pyproject.toml README.md "$work/src/"
cd "$work/src"
version="$("$bin/python" -m xloop --version)"
echo "-- $version"
case "$version" in
    *"compiled: yes"*) ;;
    *) echo "the installed xloop is not the compiled build" >&2 && exit 1 ;;
esac
if [ "$#" -eq 0 ]; then
    set -- -n 2 -q tests/server tests/http tests/ws tests/integration tests/compare/test_machine.py \
        tests/cli/test_errors.py::test_version_says_whether_the_request_path_is_compiled
fi
"$bin/python" -m pytest -p no:cacheprovider "$@"
