"""``python -m xloop.compare.client``: the command line of the load client."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .. import workloads
from ..fdlimit import raise_fd_limit
from .run import ClientError, measure
from .websocket import Outgoing

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
    parser.add_argument(
        "--server-pid",
        type=_positive(int, 1, "pid"),
        action="append",
        default=[],
        help="a process of the server (repeated: each worker); server_cpu_s sums them",
    )
    parser.add_argument("--loop", default="auto")
    parser.add_argument(
        "--start-at",
        type=float,
        default=None,
        help="wall-clock time (time.time()) the measured window starts; the warmup lasts "
        "until then (several client processes measure one window)",
    )
    parser.add_argument("--timeout", type=_positive(float, 0.001, number), default=10.0)
    parser.add_argument("--tls-ca", default=None, help="connect over TLS, trusting this CA")
    parser.add_argument(
        "--hold",
        type=_positive(int, 1, number),
        default=None,
        help="c10k: hold this many connections open, --connections of them in flight",
    )
    return parser


def _messages(workload: workloads.Workload) -> list[Outgoing] | None:
    """websocket: the messages sent in turn."""
    if workload.kind != "websocket":
        return None
    return [
        Outgoing(0x1, message.encode("utf-8"))
        if isinstance(message, str)
        else Outgoing(0x2, message)
        for message in workloads.WS_MESSAGES
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the client; 0 with the JSON on stdout, 1 with one error line on stderr."""
    args = _parser().parse_args(argv)
    fd_note: str | None = None
    try:
        from xloop import loops

        choice = loops.resolve(args.loop)
        workload = workloads.get(args.workload)
        messages = _messages(workload)
        request = workloads.request_bytes(workload, args.host, args.port, args.path)
        if messages is not None:  # the handshake's request line and Host; keys per socket
            request = request[: request.index(b"\r\n", request.index(b"Host:")) + 2]
        sockets = max(args.connections, args.hold or 0)
        fd_note = raise_fd_limit(sockets)
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
                server_pids=args.server_pid,
                start_at=args.start_at,
                messages=messages,
                hold=args.hold,
                tls_ca=args.tls_ca,
            ),
            loop_factory=choice.factory,
        )
    except ClientError as exc:
        _fail(f"{exc} ({fd_note})" if fd_note else str(exc))
    except KeyboardInterrupt:
        _fail("interrupted")
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    result["fd_limit"] = fd_note
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0
