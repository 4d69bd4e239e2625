"""The plain-HTTP answers a WebSocket handshake can get instead of the ``101``.

Before the app accepts, the connection still speaks HTTP/1.1: a close before accept is a
``403`` (ASGI spec), an app that fails is a ``500``, and the ``websocket.http.response``
extension lets the app deny with a whole response of its own. :class:`Denial` makes those
bytes from the HTTP connection the upgrade came in on; the WebSocket writes them and owns
the phases. It is dropped once the app accepts, with the HTTP connection it holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..http import DefaultHeaders, HTTPConnection, Request
    from ..types import Message

__all__ = ["Denial"]


class Denial:
    """The HTTP side of one WebSocket handshake (sans-IO: it returns bytes)."""

    __slots__ = ("headers", "http", "request", "started", "status")

    def __init__(self, http: HTTPConnection, request: Request) -> None:
        self.http = http
        self.request = request
        self.status = 0
        self.headers: Any = ()
        #: The denial response's head has been made (a 500 can no longer replace it).
        self.started = False

    def error(self, status: int, defaults: DefaultHeaders) -> bytes:
        """A whole error response (403 for a close before accept, 500 for a failed app)."""
        return self.http.error_response(status, defaults)

    def start(self, message: Message) -> None:
        """``websocket.http.response.start``: kept until the first body message."""
        self.status = message["status"]
        self.headers = message.get("headers", ())

    def body(self, message: Message, defaults: DefaultHeaders) -> tuple[bytes, bool]:
        """``websocket.http.response.body``: the bytes to write, and whether more follow."""
        body = message.get("body", b"")
        if type(body) is not bytes:
            body = bytes(memoryview(body))
        more: bool = message.get("more_body", False)
        http = self.http
        if self.started:
            data = http.response_body(body)
            if not more:
                data += http.response_end()
            return data, more
        self.started = True
        http.begin_response(self.request)
        if not more:
            return http.response_whole(self.status, self.headers, defaults, body, True), more
        head = http.response_head(self.status, self.headers, defaults, None, True)
        return head + http.response_body(body), more
