"""``python -m xloop.compare.client``: the command line of the load client."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .. import workloads
from .run import ClientError, measure

__all__ = ["PROG", "main"]

PROG = "xloop compare client"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        _fail(message)


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(1)


def _positive(kind: type[int] | type[float], minimum: float, what: str) -> Any:
    def convert(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {what}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: must be at least {minimum:g}")
        return value

    return convert


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m xloop.compare.client", description="The load client of xloop compare."
    )
    number = "number"
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=_positive(int, 1, "port"))
    parser.add_argument("--workload", required=True, choices=list(workloads.WORKLOADS))
    parser.add_argument("--path", default=None, help="request target (default: the workload's)")
    parser.add_argument("--connections", type=_positive(int, 1, number), default=64)
    parser.add_argument("--duration", type=_positive(float, 0.001, number), default=5.0)
    parser.add_argument("--warmup", type=_positive(float, 0.0, number), default=1.0)
    parser.add_argument("--pipeline", type=_positive(int, 1, number), default=1)
    parser.add_argument("--server-pid", type=_positive(int, 1, "pid"), default=None)
    parser.add_argument("--loop", default="auto")
    parser.add_argument(
        "--start-at",
        type=float,
        default=None,
        help="wall-clock time (time.time()) the measured window starts; the warmup lasts "
        "until then (several client processes measure one window)",
    )
    parser.add_argument("--timeout", type=_positive(float, 0.001, number), default=10.0)
    return parser


def _raise_fd_limit(connections: int) -> None:
    try:
        resource = importlib.import_module("resource")  # POSIX only
    except ImportError:  # pragma: no cover - Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 64
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError):  # pragma: no cover
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the client; 0 with the JSON on stdout, 1 with one error line on stderr."""
    args = _parser().parse_args(argv)
    try:
        from xloop import loops

        choice = loops.resolve(args.loop)
        workload = workloads.get(args.workload)
        request = workloads.request_bytes(workload, args.host, args.port, args.path)
        _raise_fd_limit(args.connections)
        result = loops.run(
            measure(
                args.host,
                args.port,
                request,
                connections=args.connections,
                duration=args.duration,
                warmup=args.warmup,
                pipeline=args.pipeline,
                timeout=args.timeout,
                tcp=workload.kind == "tcp",
                server_pid=args.server_pid,
                start_at=args.start_at,
            ),
            loop_factory=choice.factory,
        )
    except ClientError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted")
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0
