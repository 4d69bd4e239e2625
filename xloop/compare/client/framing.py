"""Response framing without an HTTP parser: what a response head says about its body."""

from __future__ import annotations

__all__ = ["CHUNKED", "INTERIM", "MAX_HEAD", "UNTIL_CLOSE", "Violation", "parse_head"]

# what a head says about the body that follows (parse_head's second item)
CHUNKED = -1
"""``Transfer-Encoding: chunked``: walk the chunks."""
UNTIL_CLOSE = -2
"""Neither length nor chunked: the body ends when the server closes the connection."""
INTERIM = -3
"""A 1xx head: no body, the real response follows."""

MAX_HEAD = 64 * 1024
"""A head (or a chunk-size line, or trailers) longer than this is a protocol error."""


class Violation(Exception):
    """Response bytes that are not what the framing expects."""


def header_values(lower_head: bytes, name: bytes) -> list[bytes]:
    """Every value of the header ``name`` (lowercase) in a lowercased head."""
    values = []
    key = b"\r\n" + name + b":"
    start = lower_head.find(key)
    while start >= 0:
        begin = start + len(key)
        end = lower_head.find(b"\r\n", begin)
        if end < 0:
            end = len(lower_head)
        values.append(lower_head[begin:end].strip(b" \t"))
        start = lower_head.find(key, end)
    return values


def parse_head(head: bytes) -> tuple[bytes, int, bool]:
    """What a response head (without its final ``\\r\\n\\r\\n``) says.

    Returns ``(status, body, close)``: the three status digits, the body length or
    :data:`CHUNKED`, :data:`UNTIL_CLOSE` or :data:`INTERIM`, and whether the server
    closes the connection after this response. ValueError if it is not a response head.
    """
    if (
        len(head) < 12
        or not head.startswith(b"HTTP/1.")
        or head[8:9] != b" "
        or head[12:13] not in (b" ", b"\r", b"")
    ):
        raise ValueError(f"not an HTTP/1.x status line: {head[:40]!r}")
    status = head[9:12]
    if not status.isdigit():
        raise ValueError(f"bad status {status!r}")
    code = int(status)
    lower = head.lower()
    connection = b",".join(header_values(lower, b"connection"))
    # HTTP/1.0 closes unless it says keep-alive; HTTP/1.1 keeps alive unless it says close
    close = b"keep-alive" not in connection if head[7:8] == b"0" else b"close" in connection
    if code < 200:
        if code == 101 or code < 100:
            raise ValueError(f"unexpected status {code}")
        return status, INTERIM, False
    if code in (204, 304):
        return status, 0, close
    encodings = header_values(lower, b"transfer-encoding")
    if encodings:
        last = b",".join(encodings).rsplit(b",", 1)[-1].strip(b" \t")
        if last == b"chunked":
            return status, CHUNKED, close
        return status, UNTIL_CLOSE, True
    lengths = header_values(lower, b"content-length")
    if lengths:
        values = {value.strip(b" \t") for item in lengths for value in item.split(b",")}
        if len(values) != 1:
            raise ValueError(f"conflicting Content-Length {lengths!r}")
        text = values.pop()
        if not text.isdigit():
            raise ValueError(f"bad Content-Length {text!r}")
        return status, int(text), close
    return status, UNTIL_CLOSE, True
