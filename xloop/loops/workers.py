"""The per-worker plan of ``xloop serve --workers N``: which loop each worker runs, how the
workers share the listening socket, and the socket cap that applies.

``xloop which-loop --workers N`` prints it; the supervisor logs it at start-up and each
worker's ``ready`` event then says the loop class it really runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import WINDOWS_SELECT_LIMIT, _platform, resolve

__all__ = ["SHARING_TEXT", "WorkerPlan", "worker_plan"]

SHARING_TEXT = {
    "inherit": "bound once by the supervisor, inherited by each worker and watched by "
    "each worker's own loop",
    "accept-thread": "bound once by the supervisor, passed to each worker with "
    "socket.share(); a thread per worker accepts and hands each connection to the loop "
    "(connect_accepted_socket), as a socket belongs to one IOCP",
}


@dataclass(frozen=True)
class WorkerPlan:
    """How ``workers`` worker processes serve one listener on the loop ``requested``."""

    requested: str
    backend: str
    """The backend every worker resolves (each worker resolves it again itself)."""
    reason: str
    workers: int
    sharing: str
    """"inherit" or "accept-thread" (:data:`xloop.loops._platform.WORKER_SHARING`)."""
    cap: int | None
    """The sockets one worker can watch, where the OS sets a low bound (select())."""

    @property
    def sharing_text(self) -> str:
        return SHARING_TEXT[self.sharing]

    def as_dict(self) -> dict[str, object]:
        return {
            "workers": self.workers,
            "backend": self.backend,
            "reason": self.reason,
            "sharing": self.sharing,
            "sharing_text": self.sharing_text,
            "socket_cap": self.cap,
        }


def worker_plan(loop: str, selector: str, workers: int) -> WorkerPlan:
    """The plan for ``workers`` workers on ``--loop loop --selector selector`` here."""
    choice = resolve(loop, selector)
    sharing = _platform.WORKER_SHARING
    capped = _platform.IS_WINDOWS and choice.backend == "selector"
    return WorkerPlan(
        requested=loop,
        backend=choice.backend + (f" ({choice.selector})" if choice.selector else ""),
        reason=choice.reason,
        workers=workers,
        sharing=sharing,
        cap=WINDOWS_SELECT_LIMIT if capped else None,
    )
