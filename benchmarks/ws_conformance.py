"""Autobahn|Testsuite conformance of xloop's WebSocket, through kosoku's fuzzing client.

    python benchmarks/ws_conformance.py                       # cases 1-7, 10, 12, 13
    python benchmarks/ws_conformance.py --no-deflate          # 1-7 and 10 only
    python benchmarks/ws_conformance.py --loops uvloop --engines wsproto --cases '6.*'

For each loop and engine, one ``xloop serve benchmarks.apps:ws_echo`` process (port 0, its
log kept) is driven by kosoku (the Autobahn case files, run by a native client). Each
case's verdict is counted: OK, NON-STRICT, INFORMATIONAL (all acceptable), UNIMPLEMENTED,
FAILED (a bad message verdict or a bad closing handshake). The server's log must hold no
traceback and no error. Exit 1 if any case failed or anything was logged.

The server runs without keepalive pings (``--ws-ping-interval 0``, before the options
passed through, which may turn them back on): Autobahn's case base class ends a case at an
unsolicited ping (``onPing`` -> ``finishWhenDone``, which closes with 1000 when the case
expects no particular events), so a ping in the middle of a performance case (9.*, 12.*,
13.*: 1000 round trips, past the 20 s default interval on a loaded machine) ends it early
with the message "Case did not finish within 480 seconds", a clean close after however
many echoes were done.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import kosoku

ROOT = Path(__file__).resolve().parent.parent
SERVING = re.compile(r"serving on http://127\.0\.0\.1:(\d+)")
BASE_CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"]
DEFLATE_CASES = ["12.*", "13.*"]
ACCEPTABLE = {"OK", "NON-STRICT", "INFORMATIONAL"}
#: Keepalive pings off: Autobahn's cases take an unsolicited ping for their end (above).
SERVER_OPTIONS = ["--ws-ping-interval", "0"]
VERDICTS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]


def start_server(loop: str, engine: str, log: Path, extra: list[str]) -> tuple[Any, int]:
    """``xloop serve`` the echo app; return the process and its port."""
    command = [
        sys.executable,
        "-m",
        "xloop",
        "serve",
        "benchmarks.apps:ws_echo",
        "--port",
        "0",
        "--loop",
        loop,
        "--ws",
        engine,
        "--no-access-log",
        "--log-level",
        "info",
        *SERVER_OPTIONS,
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    stream = log.open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=stream, stdout=stream)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = SERVING.search(log.read_text())
        if match:
            return process, int(match.group(1))
        if process.poll() is not None:
            raise SystemExit(f"xloop serve exited:\n{log.read_text()}")
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"xloop serve did not start:\n{log.read_text()}")


def verdict(result: Any) -> str:
    behavior = result.behavior.value
    if result.behavior_close.value not in {"OK", "INFORMATIONAL"} and behavior in ACCEPTABLE:
        return "FAILED"
    return behavior if behavior in VERDICTS else "FAILED"


def run_one(
    loop: str, engine: str, cases: list[str], parallelism: int, logs: Path, extra: list[str]
) -> dict[str, Any]:
    log = logs / f"xloop-{loop}-{engine}.log"
    process, port = start_server(loop, engine, log, extra)
    started = time.monotonic()
    try:
        try:
            results = asyncio.run(
                kosoku.run_fuzzingclient(f"ws://127.0.0.1:{port}", cases, concurrency=parallelism)
            )
        except kosoku.FailureError as failure:
            results = failure.results
    finally:
        elapsed = time.monotonic() - started
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    counts = collections.Counter(verdict(result) for result in results)
    failed = [
        f"{r.case_id}: {r.behavior.value}/{r.behavior_close.value}: {r.result} {r.result_close}"
        for r in results
        if verdict(r) not in ACCEPTABLE
    ]
    text = log.read_text()
    problems = [
        line for line in text.splitlines() if line.startswith(("ERROR:", "CRITICAL:", "WARNING:"))
    ]
    return {
        "loop": loop,
        "engine": engine,
        "cases": len(results),
        "counts": {name: counts.get(name, 0) for name in VERDICTS},
        "failed": failed,
        "tracebacks": text.count("Traceback"),
        "log_problems": problems,
        "seconds": round(elapsed, 1),
        "log": str(log),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loops", default="selector,uvloop")
    parser.add_argument("--engines", default="websockets,wsproto")
    parser.add_argument("--cases", help="comma-separated case ids or globs (default: all below)")
    parser.add_argument(
        "--deflate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the permessage-deflate cases 12 and 13",
    )
    parser.add_argument("--parallelism", type=int, default=2, help="cases run at once")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--logs", type=Path, help="keep the servers' logs here")
    args, extra = parser.parse_known_args()
    cases = args.cases.split(",") if args.cases else BASE_CASES + (DEFLATE_CASES * args.deflate)
    if not args.deflate:
        extra.append("--no-ws-per-message-deflate")
    logs = args.logs or Path(tempfile.mkdtemp(prefix="ws-conformance-"))
    logs.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"cases: {','.join(cases)}", flush=True)
    header = f"{'loop':10} {'engine':11} " + " ".join(f"{name:>13}" for name in VERDICTS)
    print(header + "   traceback  log  seconds", flush=True)
    for loop in args.loops.split(","):
        for engine in args.engines.split(","):
            row = run_one(loop, engine, cases, args.parallelism, logs, extra)
            rows.append(row)
            counts = " ".join(f"{row['counts'][name]:>13}" for name in VERDICTS)
            print(
                f"{loop:10} {engine:11} {counts}   {row['tracebacks']:>9} "
                f"{len(row['log_problems']):>4} {row['seconds']:>8}",
                flush=True,
            )
            for line in row["failed"] + row["log_problems"]:
                print(f"    {line}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"cases": cases, "runs": rows}, indent=2))
    bad = any(row["failed"] or row["tracebacks"] or row["log_problems"] for row in rows)
    print(f"logs: {logs}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
