#!/usr/bin/env python3
"""Benchmark xloop against uvicorn on the same app, event loop and HTTP parser.

A thin wrapper over ``xloop compare --servers xloop,uvicorn --client wrk``: its options
become compare's, compare prints the table (uvicorn's ratio column is against xloop on the
same loop and parser) and ``--json`` writes compare's file (schema ``xloop.compare/1``).
Run from anywhere with the project's interpreter, for example::

    .venv/bin/python benchmarks/vs_uvicorn.py
    .venv/bin/python benchmarks/vs_uvicorn.py --servers uvicorn --rounds 1 --duration 2 --warmup 1

``--check-floor`` exits 1 if xloop is slower than uvicorn anywhere (or a ratio is missing).
See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

SERVERS = ("xloop", "uvicorn")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vs_uvicorn.py",
        description="xloop against uvicorn (same app, loop and parser): xloop compare "
        "--servers xloop,uvicorn --client wrk.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--loops", default="asyncio,uvloop", help="comma-separated event loops")
    p.add_argument("--http", default="h11,httptools", help="comma-separated HTTP parsers")
    p.add_argument("--servers", default=",".join(SERVERS), help="comma-separated servers")
    p.add_argument("--app", default="benchmarks.apps:hello", help="ASGI app as module:attr")
    p.add_argument("--rounds", type=int, default=5, help="rounds per configuration")
    p.add_argument("--duration", type=float, default=5, help="seconds per measured wrk run")
    p.add_argument("--warmup", type=float, default=2, help="seconds of warmup (0: none)")
    p.add_argument("--connections", type=int, default=50, help="wrk connections")
    p.add_argument("--client", default="wrk", help="load client: wrk, oha or builtin")
    p.add_argument("--json", metavar="FILE", type=Path, default=None, help="compare's --json")
    p.add_argument(
        "--check-floor",
        action="store_true",
        help="exit 1 if any uvicorn row's ratio against xloop is above 1.0 (or missing)",
    )
    return p


def compare_command(args: argparse.Namespace, json_path: Path | None) -> list[str]:
    command = [sys.executable, "-m", "xloop", "compare", args.app, "--app-dir", str(REPO_ROOT)]
    command += ["--servers", args.servers, "--loops", args.loops, "--http", args.http]
    command += ["--rounds", str(args.rounds), "--duration", f"{args.duration:g}"]
    command += ["--warmup", f"{args.warmup:g}", "--connections", str(args.connections)]
    command += ["--client", args.client, "--quiet"]
    if json_path is not None:
        command += ["--json", str(json_path)]
    return command


def floor_failures(data: dict[str, object]) -> list[str]:
    """Why the floor check fails: a uvicorn row faster than xloop, or without a ratio."""
    rows = data.get("results")
    assert isinstance(rows, list)
    failures = []
    for row in rows:
        if row.get("server") != "uvicorn":
            continue
        ratio = row.get("ratio")
        if ratio is None:
            failures.append(f"{row['label']}: no ratio against xloop")
        elif ratio > 1.0:
            failures.append(f"{row['label']}: {ratio:.2f}x xloop's req/s")
    return failures


def run(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.check_floor and set(args.servers.split(",")) != set(SERVERS):
        parser.error("--check-floor needs --servers xloop,uvicorn")
    with tempfile.TemporaryDirectory(prefix="vs-uvicorn-") as scratch:
        json_path = args.json or (Path(scratch) / "compare.json" if args.check_floor else None)
        code = subprocess.call(compare_command(args, json_path))
        if not args.check_floor or json_path is None or not json_path.exists():
            return code
        failures = floor_failures(json.loads(json_path.read_text(encoding="utf-8")))
    for line in failures:
        print(f"floor: {line}", file=sys.stderr)
    return 1 if failures else code


if __name__ == "__main__":
    sys.exit(run())
