"""``xloop serve main:app --ssl-certfile c.pem --ssl-keyfile k.pem`` answers curl over https,
on every loop here; a bad TLS option is one line and exit code 2."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.server import tls_files

from ._support import (
    IO_TIMEOUT,
    STARTUP_TIMEOUT,
    Backend,
    loop_families,
    run_cli,
    write_hello,
    xloop_process,
)

FAMILIES = loop_families()
CURL = shutil.which("curl")


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tls_files.directory(tmp_path_factory)


@pytest.mark.skipif(CURL is None, reason="curl is not installed")
@pytest.mark.parametrize("backend", FAMILIES, ids=[b.loop for b in FAMILIES])
def test_curl_over_https(tmp_path: Path, tls_dir: Path, backend: Backend) -> None:
    assert CURL is not None
    write_hello(tmp_path)
    args = ["serve", "main:app", "--port", "0", *backend.loop_args()]
    args += ["--ssl-certfile", str(tls_dir / "server.pem")]
    args += ["--ssl-keyfile", str(tls_dir / "server.key")]
    with xloop_process(args, cwd=tmp_path) as server:
        found = server.wait_for(
            re.compile(r"xloop serving on (https://127\.0\.0\.1:\d+)|(cannot serve TLS.*)"),
            STARTUP_TIMEOUT,
        )
        if found.group(2):  # the loop itself says so (rloop 0.5): one line, exit 2
            assert server.wait_exit() == 2, server.describe()
            pytest.skip(found.group(0))
        where = found.group(1)
        done = subprocess.run(
            [CURL, "-sS", "--cacert", str(tls_dir / "ca.pem"), "-w", " %{http_code} %{scheme}",
             f"{where}/"],
            capture_output=True, text=True, timeout=IO_TIMEOUT, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout == "Hello, world! 200 HTTPS", done.stdout
        assert server.stop() == 0


def test_a_missing_certificate_is_one_line_and_exit_2(tmp_path: Path) -> None:
    write_hello(tmp_path)
    done = run_cli(["serve", "main:app", "--ssl-certfile", "missing.pem"], cwd=tmp_path)
    assert done.code == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "xloop: error: TLS: no such file: missing.pem (hint: check --ssl-certfile, "
        "--ssl-keyfile and --ssl-ca-certs)"
    ]
