"""``--client wrk`` and ``--client oha``: command lines and reports, without running them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xloop.compare import external
from xloop.compare.workloads import WORKLOADS
from xloop.errors import ConfigError

WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:8000/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.68ms  312.45us   1.20s    93.11%
    Req/Sec    38.10k     1.02k   39.60k    80.00%
  Latency Distribution
     50%    1.66ms
     75%    1.79ms
     90%    1.93ms
     99%    2.38ms
  114367 requests in 3.00s, 17.23MB read
  Socket errors: connect 0, read 2, write 1, timeout 3
  Non-2xx or 3xx responses: 5
Requests/sec:  38122.51
Transfer/sec:      5.74MB
"""


def test_parse_wrk_report() -> None:
    run = external.parse_wrk(WRK_OUTPUT)
    assert run.requests_per_second == pytest.approx(38122.51)
    assert run.requests == 114367
    assert run.latency_p50_ms == pytest.approx(1.66)
    assert run.latency_p90_ms == pytest.approx(1.93)
    assert run.latency_p99_ms == pytest.approx(2.38)
    assert run.latency_max_ms == pytest.approx(1200.0)  # "1.20s"
    assert run.error_detail == {"connect": 0, "read": 2, "write": 1, "timeout": 3}
    assert run.errors == 6
    assert run.non_2xx == 5


def test_parse_wrk_microseconds_and_no_error_lines() -> None:
    text = WRK_OUTPUT.replace("     50%    1.66ms", "     50%  850.00us")
    text = "\n".join(
        line for line in text.splitlines() if "Socket errors" not in line and "Non-2xx" not in line
    )
    run = external.parse_wrk(text)
    assert run.latency_p50_ms == pytest.approx(0.85)
    assert run.errors == 0
    assert run.non_2xx == 0


def test_parse_wrk_without_a_result_says_why() -> None:
    with pytest.raises(ValueError, match="wrk measured nothing: unable to connect"):
        external.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_parse_oha_report() -> None:
    report = {
        "summary": {"requestsPerSec": 1234.5, "slowest": 0.25},
        "latencyPercentiles": {"p50": 0.001, "p90": 0.002, "p99": 0.004},
        "statusCodeDistribution": {"200": 3000, "404": 7},
        "errorDistribution": {"aborted due to deadline": 64, "connection reset": 2},
    }
    run = external.parse_oha(json.dumps(report))
    assert run.requests_per_second == pytest.approx(1234.5)
    assert run.requests == 3007
    assert run.latency_p50_ms == pytest.approx(1.0)
    assert run.latency_p99_ms == pytest.approx(4.0)
    assert run.latency_max_ms == pytest.approx(250.0)
    assert run.non_2xx == 7
    assert run.errors == 2  # requests cut off by the deadline are not errors
    with pytest.raises(ValueError, match="JSON report"):
        external.parse_oha("oha: error: unexpected argument")


def test_wrk_command_plain_get_and_scripted_requests(tmp_path: Path) -> None:
    base = "http://127.0.0.1:9"
    plain = external.wrk_command(
        "wrk", base, WORKLOADS["plaintext"], path=None, connections=64, threads=1,
        duration=2.6, pipeline=1, scratch=tmp_path, timeout=7,
    )  # fmt: skip
    assert plain == [
        "wrk", "-t1", "-c64", "-d3s", "--latency", "--timeout", "7s", "http://127.0.0.1:9/",
    ]  # fmt: skip
    upload = external.wrk_command(
        "wrk", base, WORKLOADS["upload"], path='/up "x"', connections=8, threads=2,
        duration=1, pipeline=1, scratch=tmp_path,
    )  # fmt: skip
    script = Path(upload[upload.index("-s") + 1]).read_text()
    assert 'wrk.method = "POST"' in script
    assert 'string.rep("u", 1048576)' in script
    assert 'wrk.format(nil, "/up\\032\\034x\\034")' in script  # a Lua string, quoted
    piped = external.wrk_command(
        "wrk", base, WORKLOADS["plaintext"], path=None, connections=8, threads=1,
        duration=1, pipeline=16, scratch=tmp_path,
    )  # fmt: skip
    assert "local pipeline = 16" in Path(piped[piped.index("-s") + 1]).read_text()


def test_oha_command(tmp_path: Path) -> None:
    command = external.oha_command(
        "oha", "http://h:1", WORKLOADS["upload"], path=None, connections=4, duration=2.5,
        scratch=tmp_path,
    )  # fmt: skip
    assert command[:4] == ["oha", "-z", "2500ms", "-c"]
    assert "--no-tui" in command
    body = Path(command[command.index("-D") + 1])
    assert body.stat().st_size == 1 << 20
    assert command[-1] == "http://h:1/upload"


def test_tools_refuse_what_they_cannot_do() -> None:
    with pytest.raises(ConfigError, match="raw TCP"):
        external.check_workload("wrk", WORKLOADS["echo"], 1)
    with pytest.raises(ConfigError, match="cannot pipeline"):
        external.check_workload("oha", WORKLOADS["plaintext"], 4)
    external.check_workload("wrk", WORKLOADS["plaintext"], 4)
