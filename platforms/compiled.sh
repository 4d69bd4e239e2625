#!/usr/bin/env bash
# The compiled build (platforms/compile.py), built and tested: in a venv of its own, the
# wheel is built with XLOOP_COMPILE=1 (compiled, or this fails) and installed with the test
# extra, and the suites run against it from a copy of tests/ by platforms/wheel_test.py (as
# the wheels workflow runs them on each cibuildwheel wheel). `tox -e compiled` and .ci/run
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
mkdir -p "$work/src/platforms"
cp -r tests benchmarks pyproject.toml README.md "$work/src/"
cp platforms/wheel_test.py "$work/src/platforms/"
cd "$work/src"
# (checks that the wheel's xloop is imported, compiled, then runs pytest with "$@")
XLOOP_COMPILE=1 "$bin/python" platforms/wheel_test.py "$@"
