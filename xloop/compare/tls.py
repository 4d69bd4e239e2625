"""``xloop compare --tls``: a certificate made for the run, and the client's side of it.

The servers get the certificate and key (xloop and uvicorn ``--ssl-certfile/--ssl-keyfile``,
hypercorn ``--certfile/--keyfile``, granian ``--ssl-certificate/--ssl-keyfile``); the
built-in client trusts the run's CA and offers ALPN ``http/1.1``; wrk and oha are pointed
at ``https://``. trustme makes the CA and the certificate (for 127.0.0.1, ::1 and localhost).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

__all__ = ["TlsFiles", "client_context", "make"]


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def make(directory: Path) -> TlsFiles:
    """A CA and a server certificate with its key, written in ``directory``."""
    try:
        import trustme
    except ImportError:
        raise ConfigError(
            "--tls makes a certificate for the run with trustme, which is not installed",
            hint="pip install trustme",
        ) from None
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "::1", "localhost")
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca.cert_pem.write_to_path(str(files.ca))
    issued.private_key_pem.write_to_path(str(files.key))
    with files.cert.open("wb") as out:
        for blob in issued.cert_chain_pems:
            out.write(blob.bytes())
    return files


def client_context(ca: str | Path) -> ssl.SSLContext:
    """The client's context: the run's CA trusted, ALPN http/1.1."""
    context = ssl.create_default_context(cafile=str(ca))
    context.set_alpn_protocols(["http/1.1"])
    return context
