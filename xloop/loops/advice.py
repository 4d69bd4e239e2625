"""Advice for the app at hand: a library it imported meets a loop that lacks what it needs.

The knowledge is one table, :data:`KNOWN`: each row names a library (by the module the app
imports), the loop capability it needs (a probe of :mod:`xloop.loops.capabilities`), what
breaks without it, the fix, and the library's own words on it. Whether the chosen loop has
the capability is not looked up: the probe runs on a fresh loop of the same kind, in a
thread, bounded in time. A policy the app set is reported too: xloop's loop comes from
``--loop``, never from the policy.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["KNOWN", "Incompatibility", "Warning_", "check_app", "worth_checking"]


@dataclass(frozen=True)
class Incompatibility:
    module: str
    """The module whose presence in ``sys.modules`` says the app uses the library."""
    library: str
    needs: str
    """The probe (capability) the library needs."""
    breaks: str
    fix: str
    source: str
    """The library's own documentation or issue saying so."""


KNOWN: tuple[Incompatibility, ...] = (
    Incompatibility(
        "psycopg",
        "psycopg 3 (async)",
        "add_reader",
        "AsyncConnection waits on its socket with add_reader",
        "use --loop selector (or winloop on Windows)",
        "https://www.psycopg.org/psycopg3/docs/advanced/async.html#asynchronous-operations",
    ),
    Incompatibility(
        "aiopg",
        "aiopg",
        "add_reader",
        "it drives psycopg2's async mode with add_reader",
        "use --loop selector (or winloop on Windows)",
        "https://github.com/aio-libs/aiopg/issues/678",
    ),
    Incompatibility(
        "aiodns",
        "aiodns (pycares)",
        "add_reader",
        "it watches c-ares' sockets with add_reader",
        "use --loop selector (or winloop on Windows)",
        "https://github.com/saghul/aiodns#note-for-windows-users",
    ),
    Incompatibility(
        "playwright",
        "Playwright",
        "subprocess",
        "it starts its driver with asyncio subprocesses",
        "use --loop proactor or winloop",
        "https://playwright.dev/python/docs/library#incompatible-with-selectoreventloop-of-asyncio-on-windows",
    ),
    Incompatibility(
        "asyncssh",
        "AsyncSSH (local processes)",
        "subprocess",
        "create_subprocess and SSHServerProcess redirection use asyncio subprocesses",
        "use --loop proactor or winloop",
        "https://asyncssh.readthedocs.io/en/latest/#windows",
    ),
)


@dataclass(frozen=True)
class Warning_:
    """One line for the log or the terminal, with its fix."""

    text: str
    fix: str
    source: str = ""

    def line(self) -> str:
        cite = f" (see {self.source})" if self.source else ""
        return f"{self.text}; {self.fix}{cite}"


def _has(probe_name: str, factory: Callable[[], asyncio.AbstractEventLoop]) -> tuple[bool, str]:
    """Run one probe on a fresh loop in a thread of its own: (works, what it said)."""
    from . import capabilities
    from . import run as run_on

    outcome: list[tuple[bool, str]] = []

    def body() -> None:
        async def bounded() -> str:
            return await asyncio.wait_for(
                capabilities.PROBES[probe_name](), capabilities.bound(probe_name)
            )

        try:
            outcome.append((True, run_on(bounded(), loop_factory=factory)))
        except NotImplementedError as exc:
            outcome.append((False, str(exc) or "NotImplementedError"))
        except Exception as exc:  # a probe that fails is no evidence either way
            outcome.append((True, f"could not tell: {type(exc).__name__}: {exc}"))

    thread = threading.Thread(target=body, name=f"probe {probe_name}", daemon=True)
    thread.start()
    thread.join(capabilities.bound(probe_name) + 1.0)
    return outcome[0] if outcome else (True, "could not tell: the probe did not finish")


def _policy_warning(loop_text: str) -> Warning_ | None:
    policy = getattr(asyncio.events, "_event_loop_policy", None)  # None: never set
    if policy is None:
        return None
    default = getattr(asyncio, "DefaultEventLoopPolicy", None)
    if default is not None and type(policy) is default:
        return None
    name = f"{type(policy).__module__}.{type(policy).__qualname__}"
    return Warning_(
        f"the app set the event loop policy {name}, which xloop does not use: "
        f"the loop is {loop_text}",
        "choose the loop with --loop (e.g. --loop uvloop) instead of a policy",
    )


def worth_checking(modules: dict[str, object] | None = None) -> bool:
    """Cheap: does the app use a library of the table, or has a policy been set?"""
    present = sys.modules if modules is None else modules
    return any(row.module in present for row in KNOWN) or (_policy_warning("") is not None)


def check_app(
    factory: Callable[[], asyncio.AbstractEventLoop],
    loop_text: str,
    modules: dict[str, object] | None = None,
) -> list[Warning_]:
    """The warnings for an app already imported (its modules in ``sys.modules``)."""
    present = sys.modules if modules is None else modules
    warnings: list[Warning_] = []
    verdicts: dict[str, tuple[bool, str]] = {}
    for row in KNOWN:
        if row.module not in present:
            continue
        if row.needs not in verdicts:
            verdicts[row.needs] = _has(row.needs, factory)
        works, said = verdicts[row.needs]
        if not works:
            warnings.append(
                Warning_(
                    f"the app uses {row.library}, and {loop_text} has no {row.needs} "
                    f"({said}): {row.breaks}",
                    row.fix,
                    row.source,
                )
            )
    policy = _policy_warning(loop_text)
    if policy is not None:
        warnings.append(policy)
    return warnings
