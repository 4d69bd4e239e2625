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

__all__ = ["FILES", "prepared", "write"]

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


if __name__ == "__main__":
    write(Path(sys.argv[1]))
