"""TLS files for the tests: a CA, a server certificate for 127.0.0.1 and localhost (with
its key apart and as one chain file), and a client certificate with its key.

Made with trustme where it imports; under Wine, where trustme's cryptography does not
load, ``platforms/wine.sh`` makes them on the Linux side (``python -m tests.server.tls_files
DIR``) and passes the directory as ``XLOOP_TEST_TLS_DIR``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

__all__ = ["FILES", "directory", "prepared", "write"]

FILES = ("ca.pem", "server.pem", "server.key", "server-chain.pem", "client.pem")


def write(directory: Path) -> None:
    """Make every file of :data:`FILES` in ``directory`` (trustme)."""
    import trustme

    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client@example.org")
    directory.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    server.private_key_pem.write_to_path(str(directory / "server.key"))
    with (directory / "server.pem").open("wb") as out:
        for blob in server.cert_chain_pems:
            out.write(blob.bytes())
    server.private_key_and_cert_chain_pem.write_to_path(str(directory / "server-chain.pem"))
    client.private_key_and_cert_chain_pem.write_to_path(str(directory / "client.pem"))


def prepared() -> Path | None:
    """``XLOOP_TEST_TLS_DIR`` when it holds every file, else None."""
    value = os.environ.get("XLOOP_TEST_TLS_DIR")
    if not value:
        return None
    directory = Path(value)
    return directory if all((directory / name).is_file() for name in FILES) else None


def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The TLS files for a test module: the prepared ones, else made here with trustme;
    the test is skipped where neither can be had. (pytest is imported here, not above:
    platforms/wine.sh runs this module with a Python that has only trustme.)"""
    import pytest

    found = prepared()
    if found is not None:
        return found
    pytest.importorskip(
        "trustme", reason="trustme (cryptography) does not import here", exc_type=ImportError
    )
    made = tmp_path_factory.mktemp("tls")
    write(made)
    return made


if __name__ == "__main__":
    write(Path(sys.argv[1]))
