"""``xloop compare --tls``: every HTTP and WebSocket row served and loaded over TLS on each
loop (the built-in client and wrk), the raw TCP echo skipped with the reason."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from xloop.compare import others
from xloop.compare.plan import default_loops
from xloop.compare.runner import compare

from .test_compare import assert_clean, short

pytest.importorskip("trustme", exc_type=ImportError)
pytestmark = pytest.mark.timeout(180)


def test_every_loop_over_tls_with_the_count_checked() -> None:
    loop_names = default_loops()
    result = compare(
        short(
            tls=True, loops=loop_names, http=["httptools", "h11"], workloads=["plaintext", "echo"]
        )
    )
    rows = {(row.loop, row.http, row.workload): row for row in result.results}
    for loop in loop_names:
        for parser in ("httptools", "h11"):
            row = rows[(loop, parser, "plaintext")]
            assert row.tls
            assert row.label.endswith(" tls")
            assert_clean(row)  # the client's TLS responses, counted by the server too
        echo = rows[(loop, "tcp", "echo")]
        assert echo.status == "skipped"
        assert echo.notes == ["the tcp echo workload has no TLS"]
    assert result.settings["tls"] is True


def test_websocket_over_tls() -> None:
    result = compare(short(tls=True, loops=["asyncio"], workloads=["websocket"]))
    (row, *others_) = result.results
    assert row.label.endswith(" tls")
    assert_clean(row)
    assert all(other.tls for other in others_)


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_over_tls() -> None:
    result = compare(short(tls=True, loops=["asyncio"], http=["httptools"], clients=["wrk"]))
    (row,) = result.results
    assert row.status == "ok", row.notes
    assert row.errors == 0
    assert row.non_2xx == 0
    assert row.requests_per_second


def test_other_servers_get_their_own_tls_flags() -> None:
    tls = ("c.pem", "k.pem")
    common: dict[str, Any] = {
        "app": "m:app", "factory": False, "loop": "asyncio", "parser": "h11", "ws": None,
        "host": "127.0.0.1", "port": 1, "keep_alive": None, "tls": tls,
    }  # fmt: skip
    assert others.command("uvicorn", **common)[-4:] == [
        "--ssl-certfile", "c.pem", "--ssl-keyfile", "k.pem",
    ]  # fmt: skip
    granian = others.command("granian", **common)
    assert granian[-5:] == ["--ssl-certificate", "c.pem", "--ssl-keyfile", "k.pem", "m:app"]
    hypercorn = others.command("hypercorn", **common)
    assert hypercorn[-5:-1] == ["--certfile", "c.pem", "--keyfile", "k.pem"]
