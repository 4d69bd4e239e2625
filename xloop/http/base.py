"""The interface both parser adapters implement (h11 and httptools).

Theory of operation
-------------------
The server feeds every chunk read from the socket to ``receive_data`` and gets back the
events of *one* request at a time (see :mod:`xloop.http.events`). When the response to
that request is complete, ``start_next_cycle`` releases the events of the next pipelined
request that may already be buffered. Reading ``b""`` means the peer closed its side.

A WebSocket upgrade request comes out as a ``Request`` with ``upgrade`` set (checked only
when an ``Upgrade`` header is present: plain requests pay nothing); the server may then
take the bytes that followed its head with ``take_upgrade_data`` and stop speaking HTTP,
or answer it as plain HTTP.

The response goes the other way: ``response_head`` / ``response_body`` / ``response_end``
return the bytes to write; the adapter decides the framing (Content-Length, chunked, or
close-delimited for HTTP/1.0) and whether the connection may be kept alive afterwards.
They raise :class:`ResponseError` when the application's response is not valid HTTP
(a header with CR, LF or NUL, more or less body than declared): such bytes are never
produced, and the server answers 500 or closes the connection.

:class:`HTTPConnection` is defined in :mod:`xloop.http.response`, which implements its
response side once for every adapter; it is imported from here.
"""

from __future__ import annotations

from .events import ResponseError
from .response import HTTPConnection

__all__ = ["HTTPConnection", "ResponseError"]
