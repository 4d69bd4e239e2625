"""How long the command line takes to start and answer, beside ``uvicorn --version``.

    python benchmarks/cli_start.py                           # the default commands, 11 runs
    python benchmarks/cli_start.py --runs 21 "xloop which-loop --all"
    python benchmarks/cli_start.py --bin before=../old/.venv/bin --bin after=.venv/bin

Each command runs ``--runs`` times as a subprocess (stdout and stderr discarded), timed
wall clock from start to exit; the commands take turns within each round (A B C, then
B C A, ...) so that a slow moment of a shared machine falls on all of them. The table
gives the median, the spread (min..max), the ratio of the median to
``uvicorn --version`` (where uvicorn is installed) and the number of modules the command
imports (``python -X importtime -m NAME ...``, counted once: a figure that does not move
with the machine's load). ``--instructions`` adds the instructions each command executes,
counted once under valgrind's callgrind, and their ratio to ``uvicorn --version``'s.

The first word of a command is looked up in each ``--bin`` directory (default: the one
holding this interpreter), and a row is made per directory: two installs of xloop can be
compared in one run. ``uvicorn --version`` is run from the first directory only.

Python's bytecode caches are used as an installed package uses them: the variable that
turns off writing them (``PYTHONDONTWRITEBYTECODE``) is dropped for the commands, and an
untimed first run of each command writes what is missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_COMMANDS = (
    "xloop --version",
    "xloop which-loop",
    "xloop which-loop --json",
    "xloop --help",
    "xloop serve --help",
)
REFERENCE = "uvicorn --version"


@dataclass
class Row:
    label: str
    argv: list[str]
    python: str
    """The interpreter that runs the command's package (for the import count)."""
    times: list[float] = field(default_factory=list)
    modules: int | None = None
    instructions: int | None = None


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["COLUMNS"] = "100"  # the same tables, whatever the terminal
    return env


def _python_in(bin_dir: Path) -> str:
    for name in ("python", "python3", "python.exe"):
        found = shutil.which(name, path=str(bin_dir))
        if found:
            return found
    return sys.executable


def _rows(commands: list[str], bins: list[tuple[str, Path]]) -> list[Row]:
    rows = []
    for command in commands:
        name, *args = command.split()
        for label, bin_dir in bins:
            found = shutil.which(name, path=str(bin_dir))
            if found is None:
                print(f"{command}: no {name} in {bin_dir}, left out", file=sys.stderr)
                continue
            shown = f"{command} ({label})" if len(bins) > 1 else command
            rows.append(Row(shown, [found, *args], _python_in(bin_dir)))
    reference_dir = bins[0][1]
    uvicorn = shutil.which("uvicorn", path=str(reference_dir))
    if uvicorn is not None and REFERENCE not in commands:
        rows.append(Row(REFERENCE, [uvicorn, "--version"], _python_in(reference_dir)))
    return rows


def _run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: exit code {done.returncode}")
    return elapsed


def _count_modules(row: Row, env: dict[str, str]) -> int | None:
    """How many modules the command imports: one ``-X importtime`` line each."""
    module = Path(row.argv[0]).stem
    argv = [row.python, "-X", "importtime", "-m", module, *row.argv[1:]]
    with tempfile.TemporaryDirectory() as elsewhere:  # not the current directory's package
        done = subprocess.run(
            argv, env=env, cwd=elsewhere, capture_output=True, text=True, check=False
        )
    if done.returncode != 0:
        return None
    return sum(1 for line in done.stderr.splitlines() if line.startswith("import time:")) - 1


def _count_instructions(row: Row, env: dict[str, str]) -> int | None:
    """The instructions the command executes, counted by valgrind's callgrind."""
    argv = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={os.devnull}", *row.argv]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    return int(found.group(1)) if done.returncode == 0 and found else None


def measure(rows: list[Row], runs: int, instructions: bool) -> None:
    env = _environment()
    for row in rows:  # untimed: writes missing bytecode caches, warms the file cache
        _run(row.argv, env)
        row.modules = _count_modules(row, env)
        if instructions:
            row.instructions = _count_instructions(row, env)
    for round_ in range(runs):
        turn = rows[round_ % len(rows) :] + rows[: round_ % len(rows)]
        for row in turn:
            row.times.append(_run(row.argv, env))


def table(rows: list[Row]) -> str:
    reference = next((row for row in rows if row.label == REFERENCE), None)
    base = statistics.median(reference.times) if reference else None
    base_count = reference.instructions if reference else None
    counted = any(row.instructions is not None for row in rows)
    width = max(len(row.label) for row in rows)
    ratio_head = f"x {REFERENCE}" if base else ""
    head = f"{'command':<{width}}  {'median':>8}  {'min..max':>14}  {ratio_head:>20}  modules"
    lines = [head + ("  instructions      ratio" if counted else "")]
    for row in rows:
        median = statistics.median(row.times) * 1000
        low, high = min(row.times) * 1000, max(row.times) * 1000
        ratio = f"{median / (base * 1000):.2f}x" if base else ""
        modules = "?" if row.modules is None else str(row.modules)
        spread = f"{low:.0f}..{high:.0f} ms"
        line = f"{row.label:<{width}}  {median:>5.0f} ms  {spread:>14}  {ratio:>20}  {modules:>7}"
        if counted:
            count = row.instructions
            line += f"  {count / 1e6:>8.0f} M" if count is not None else f"  {'?':>10}"
            if count is not None and base_count:
                line += f"  {count / base_count:>8.2f}x"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "commands", nargs="*", help=f"commands to time (default: {', '.join(DEFAULT_COMMANDS)})"
    )
    parser.add_argument("--runs", type=int, default=11, help="timed runs per command")
    parser.add_argument(
        "--bin",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="look the commands up in DIR (repeatable: one row per directory)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each command's instructions once, with valgrind's callgrind "
        "(slow: seconds per command; a figure the machine's load does not move)",
    )
    options = parser.parse_args(argv)
    if options.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions needs valgrind on PATH")
    if options.runs < 1:
        parser.error("--runs must be at least 1")
    bins = []
    for item in options.bin or [f"here={Path(sys.executable).parent}"]:
        label, sep, directory = item.partition("=")
        if not sep or not Path(directory).is_dir():
            parser.error(f"--bin {item}: give LABEL=DIR, DIR a directory")
        bins.append((label, Path(directory).absolute()))
    rows = _rows(options.commands or list(DEFAULT_COMMANDS), bins)
    if not rows:
        parser.error("no command found")
    measure(rows, options.runs, options.instructions)
    print(f"{options.runs} runs each, wall clock, one process per run")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
