"""TLS (``--ssl-certfile`` and friends): the server's :class:`ssl.SSLContext`, made once.

The options are uvicorn's, with the same meanings and defaults (``--ssl-version 17`` is
``PROTOCOL_TLS_SERVER``, ``--ssl-cert-reqs 0`` is ``CERT_NONE``). ALPN offers ``http/1.1``.
A file that cannot be read, a key that does not match or a wrong password is a
:class:`~xloop.errors.ConfigError`: one line, exit code 2, before anything listens.

What the loop then does with the context: each connection's handshake runs in the loop's
TLS layer (asyncio's ``sslproto``, uvloop's port of it, ...), bounded by
``--timeout-ssl-handshake``; a client that fails it (a plain HTTP request on the TLS port,
a missing client certificate) is closed without a response and without a traceback in the
log. The scope's ``scheme`` is ``https`` (``wss`` for WebSocket).
"""

from __future__ import annotations

import os
import ssl
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["ALPN", "ssl_context"]

ALPN = ["http/1.1"]


def ssl_context(config: Config) -> ssl.SSLContext | None:
    """The context ``config`` asks for; None without ``--ssl-certfile``."""
    if config.ssl_certfile is None:
        return None
    try:
        context = ssl.SSLContext(config.ssl_version)
    except ValueError as exc:
        raise ConfigError(
            f"--ssl-version {config.ssl_version}: {exc}",
            hint="17 (PROTOCOL_TLS_SERVER) is the one to use",
        ) from None
    password = config.ssl_keyfile_password
    for name in (config.ssl_certfile, config.ssl_keyfile, config.ssl_ca_certs):
        if name is not None and not os.path.isfile(name):
            raise ConfigError(
                f"TLS: no such file: {name}",
                hint="check --ssl-certfile, --ssl-keyfile and --ssl-ca-certs",
            )
    try:
        context.load_cert_chain(
            config.ssl_certfile,
            config.ssl_keyfile,
            (lambda: password) if password is not None else None,
        )
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ConfigError(
            f"TLS: cannot load the certificate and key: {exc}",
            hint="--ssl-certfile and --ssl-keyfile must be a PEM chain and its key "
            "(--ssl-keyfile-password if the key is encrypted)",
        ) from None
    context.verify_mode = ssl.VerifyMode(config.ssl_cert_reqs)
    if config.ssl_ca_certs is not None:
        try:
            context.load_verify_locations(config.ssl_ca_certs)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"TLS: cannot load --ssl-ca-certs {config.ssl_ca_certs}: {exc}",
                hint="a PEM file of CA certificates",
            ) from None
    if config.ssl_ciphers is not None:
        try:
            context.set_ciphers(config.ssl_ciphers)
        except ssl.SSLError:
            raise ConfigError(
                f"TLS: no cipher matches --ssl-ciphers {config.ssl_ciphers!r}",
                hint="an OpenSSL cipher list, e.g. 'ECDHE+AESGCM'",
            ) from None
    context.set_alpn_protocols(ALPN)
    return context
