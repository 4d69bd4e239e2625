"""``check_head`` on its own: the shared verdict, whatever either parser let through.

h11 and llhttp refuse repeated or non-decimal framing headers before ``check_head`` sees
them (tests/http/test_bad_input.py checks the status each adapter answers). ``check_head``
must refuse them as well, so the verdict never rests on a parser's leniency alone.
"""

from __future__ import annotations

import pytest

from xloop.http import Limits, ProtocolError
from xloop.http.head import check_head

HOST = (b"host", b"example.com")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            [HOST, (b"content-length", b"5"), (b"content-length", b"5")],
            ProtocolError(400, "more than one Content-Length header"),
            id="content-length-twice-equal",
        ),
        pytest.param(
            [HOST, (b"transfer-encoding", b"chunked"), (b"transfer-encoding", b"chunked")],
            ProtocolError(501, "more than one Transfer-Encoding header"),
            id="transfer-encoding-twice",
        ),
        pytest.param(
            [HOST, (b"content-length", b"+5")],
            ProtocolError(400, "Content-Length is not a plain decimal number"),
            id="content-length-signed",
        ),
        pytest.param(
            [HOST, (b"content-length", b"")],
            ProtocolError(400, "Content-Length is not a plain decimal number"),
            id="content-length-empty",
        ),
        pytest.param(
            [HOST, (b"content-length", b"5"), (b"transfer-encoding", b"chunked")],
            ProtocolError(400, "Content-Length together with Transfer-Encoding"),
            id="both-framings",
        ),
        pytest.param(
            [HOST, (b"transfer-encoding", b"gzip")],
            ProtocolError(501, "only Transfer-Encoding: chunked is supported"),
            id="other-coding",
        ),
        pytest.param(
            [HOST, HOST],
            ProtocolError(400, "an HTTP/1.1 request needs exactly one Host header"),
            id="host-twice",
        ),
    ],
)
def test_refused(headers: list[tuple[bytes, bytes]], expected: ProtocolError) -> None:
    assert check_head(b"/", headers, Limits()) == expected


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([HOST], id="no-body"),
        pytest.param([HOST, (b"content-length", b" 5\t")], id="content-length-padded"),
        pytest.param([HOST, (b"transfer-encoding", b" Chunked ")], id="chunked-any-case"),
    ],
)
def test_accepted(headers: list[tuple[bytes, bytes]]) -> None:
    assert check_head(b"/", headers, Limits()) is None


def test_host_optional_in_http10_only() -> None:
    assert check_head(b"/", [], Limits(), http11=False) is None
    assert check_head(b"/", [], Limits(), http11=True) == ProtocolError(
        400, "an HTTP/1.1 request needs exactly one Host header"
    )
