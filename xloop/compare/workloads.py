"""What ``xloop compare`` asks of each server: the workloads.

Every HTTP workload is one request, sent again and again on keep-alive connections;
its bytes are built once (:func:`request_bytes`). ``echo`` is not HTTP: a raw TCP echo
server on the loop under test (:mod:`xloop.compare.echo`) and a client that sends a
message and waits for it to come back, so it shows the loop's own ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UPLOAD_SIZE", "WORKLOADS", "Workload", "get", "request_bytes"]

UPLOAD_SIZE = 1 << 20
"""The body ``upload`` POSTs: 1 MiB."""

ECHO_MESSAGE_SIZE = 1024
"""The message ``echo`` sends and waits for."""


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str
    """``http`` (served by ``xloop serve``) or ``tcp`` (the raw echo server)."""
    method: str
    path: str
    """The default target; ``--path`` replaces it for an app with other routes."""
    body_size: int
    description: str


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("plaintext", "http", "GET", "/", 0, "GET of a 13-byte text/plain body"),
        Workload("json", "http", "GET", "/json", 0, "GET of a small JSON document"),
        Workload("upload", "http", "POST", "/upload", UPLOAD_SIZE, "POST of 1 MiB, small reply"),
        Workload(
            "stream",
            "http",
            "GET",
            "/stream?chunks=16&size=4096",
            0,
            "GET of a chunked 64 KiB response in 16 chunks",
        ),
        Workload(
            "echo",
            "tcp",
            "",
            "",
            ECHO_MESSAGE_SIZE,
            "raw TCP echo of 1 KiB messages, no HTTP: the loop's ceiling",
        ),
    )
}
"""The workloads by name, in the order they are listed and run."""


def get(name: str) -> Workload:
    """The workload called ``name``; KeyError if there is none."""
    return WORKLOADS[name]


def request_bytes(workload: Workload, host: str, port: int, path: str | None = None) -> bytes:
    """The bytes of one request of ``workload`` (for ``tcp``: one echo message)."""
    if workload.kind == "tcp":
        return b"x" * workload.body_size
    target = path or workload.path
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    head = f"{workload.method} {target} HTTP/1.1\r\nHost: {authority}\r\n"
    if workload.body_size:
        head += (
            f"Content-Type: application/octet-stream\r\nContent-Length: {workload.body_size}\r\n"
        )
    return head.encode("ascii") + b"\r\n" + b"u" * workload.body_size
