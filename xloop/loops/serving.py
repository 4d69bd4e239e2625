"""What carries the connections the server accepts on a loop: xloop's own transport
(:mod:`xloop.server.transport`) or the loop's. Decided here, without importing the server,
for ``xloop which-loop`` as well as for the server."""

from __future__ import annotations

import asyncio
import selectors
from asyncio import selector_events

__all__ = ["own_transport", "transport_info"]

#: The loop methods xloop's transport and listener call: a loop that overrides any of them
#: (to watch its sockets its own way, or not at all) keeps its own transports.
WATCHERS = ("add_reader", "remove_reader", "add_writer", "remove_writer")


def _why_not(loop: asyncio.AbstractEventLoop) -> str | None:
    if not isinstance(loop, asyncio.SelectorEventLoop):
        return "the loop's own (create_server)"
    if isinstance(getattr(loop, "_selector", None), selectors.SelectSelector):
        return "select() is capped: the loop's, through a listener that stops at the cap"
    base = selector_events.BaseSelectorEventLoop
    changed = [name for name in WATCHERS if getattr(type(loop), name) is not getattr(base, name)]
    if changed:
        return f"the loop's own: it overrides {', '.join(changed)}"
    return None


def own_transport(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether plain (not TLS) connections on ``loop`` get xloop's transport: the stdlib
    selector loop and its subclasses, unless they drive ``select()`` (whose cap the capped
    listener keeps, :mod:`xloop.server.capped`) or override how sockets are watched."""
    return _why_not(loop) is None


def transport_info(loop: asyncio.AbstractEventLoop) -> dict[str, str]:
    """What carries the connections xloop serves on ``loop`` (``xloop which-loop``)."""
    why = _why_not(loop)
    if why is None:
        return {
            "owner": "xloop",
            "class": "xloop.server.transport.SocketTransport",
            "why": "the selector loop: xloop accepts and reads itself; TLS: the loop's",
        }
    return {"owner": "loop", "class": "", "why": why}
