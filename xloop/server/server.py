"""The server: listeners, lifespan, signals and a graceful shutdown driven by events."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import signal
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .. import loops
from ..errors import ConfigError, StartupError
from ..http import connection_factory, resolve_http
from ..importer import load_app
from ..logs import SERVING, STOPPED
from ..logs import error_logger as logger
from ..loops import advice
from ..loops.serving import own_transport
from ..status import StatusWriter, loop_fields
from ..ws import resolve_ws
from .capped import CappedListener, quiet_cap_errors, select_cap
from .connection import Connection
from .handoff import AcceptThread, Listener
from .lifespan import Lifespan
from .listener import bind_error, bind_every, bind_uds
from .state import ServerState
from .tls import ssl_context
from .transport import SelectorListener

if TYPE_CHECKING:
    from ..config import Config
    from ..types import ASGIApp

__all__ = ["Server"]

_SHUTDOWN_SIGNALS = tuple(
    sig
    for sig in (
        getattr(signal, "SIGINT", None),
        getattr(signal, "SIGTERM", None),
        getattr(signal, "SIGBREAK", None),  # Ctrl+Break on Windows
    )
    if sig is not None
)


_SIGBREAK = getattr(signal, "SIGBREAK", None)


def install_shutdown_handlers(
    loop: asyncio.AbstractEventLoop,
    on_signal: Callable[[int], None],
    signals: tuple[int, ...] = _SHUTDOWN_SIGNALS,
) -> list[Callable[[], object]]:
    """Call ``on_signal(signum)`` on ``loop`` for SIGINT, SIGTERM and (Windows) SIGBREAK;
    return the undo steps. ``loop.add_signal_handler`` where the loop has it, else a plain
    ``signal.signal`` handler that hops onto the loop. Main thread only."""
    cleanup: list[Callable[[], object]] = []
    for sig in signals:
        previous = signal.getsignal(sig)
        try:
            if sig == _SIGBREAK:
                # Ctrl+Break reaches Python as the C runtime's SIGBREAK; libuv loops
                # (winloop) watch the console instead, so take it the portable way.
                raise NotImplementedError
            loop.add_signal_handler(sig, on_signal, sig)
        except (NotImplementedError, RuntimeError, ValueError):
            # Loops without add_signal_handler (Windows proactor/selector).
            def handler(signum: int, frame: Any) -> None:
                loop.call_soon_threadsafe(on_signal, signum)

            previous = signal.signal(sig, handler)
            cleanup.append(functools.partial(signal.signal, sig, previous))
        else:
            cleanup.append(functools.partial(_remove_signal_handler, loop, sig, previous))
    return cleanup


def _remove_signal_handler(loop: asyncio.AbstractEventLoop, sig: int, previous: Any) -> None:
    """``loop.remove_signal_handler``; where that raises (rloop 0.5 calls a method it does
    not have), put the handler from before back by hand, so the signal is not left to a
    closed loop."""
    try:
        loop.remove_signal_handler(sig)
    except Exception:
        signal.signal(sig, previous if previous is not None else signal.SIG_DFL)


def _freeze_startup_objects() -> None:
    """``--gc-freeze``: collect the garbage start-up left, then freeze what remains (the
    modules, the app and what its startup made), so that the collector's full collections
    no longer walk it. Under load those collections come from the requests in flight, and
    each one walked the whole heap: tens of milliseconds added to the requests it stopped.
    """
    gc.collect()
    gc.freeze()
    logger.info("gc: %d objects frozen after startup (--gc-freeze)", gc.get_freeze_count())


class Server:
    """One xloop server. ``await serve()`` runs it until a shutdown is requested.

    For tests and embedding: ``await start()`` binds and returns once listening (``port``
    then tells the bound port, useful with port 0); ``request_shutdown()`` (thread-safe)
    makes ``serve()`` return after a graceful shutdown; ``await stop()`` does it in place.
    """

    def __init__(
        self,
        config: Config,
        *,
        sock: socket.socket | None = None,
        accept_thread: bool = False,
        signals: tuple[int, ...] | None = None,
    ) -> None:
        self.config = config
        #: A listening socket made elsewhere (a supervisor's), served instead of binding;
        #: ``accept_thread``: by a thread that hands connections to the loop
        #: (:mod:`xloop.server.handoff`) rather than by the loop itself.
        self._sock = sock
        self._accept_thread = accept_thread
        #: The signals that stop this server (default: SIGINT, SIGTERM, SIGBREAK).
        self._signals = _SHUTDOWN_SIGNALS if signals is None else signals
        self.state: ServerState | None = None
        self.listeners: list[Listener] = []
        self.lifespan: Lifespan | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.http = resolve_http(config.http)
        #: The TLS context (``--ssl-certfile``), made before anything listens.
        self.ssl = ssl_context(config)
        self.ws = resolve_ws(config.ws)
        #: Set (from any thread) once the server listens.
        self.ready = threading.Event()
        self._shutdown_requested: asyncio.Event | None = None
        self._force: asyncio.Event | None = None
        #: A stop (or forced stop) asked before the loop ran: acted on once started.
        self._stop_early = False
        self._force_early = False
        self._uds_path: str | None = None
        self._signal_cleanup: list[Callable[[], object]] = []
        self.forced = False
        self._port: int | None = None
        self._date_timer: asyncio.TimerHandle | None = None
        # --status-fd: lifecycle events for the parent process (xloop.status)
        self.status = None if config.status_fd is None else StatusWriter.open(config.status_fd)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def sockets(self) -> list[socket.socket]:
        result: list[socket.socket] = []
        for listener in self.listeners:
            result.extend(getattr(listener, "sockets", ()) or ())
        return result

    @property
    def port(self) -> int:
        """The TCP port listened on (the real one when ``port=0`` was asked)."""
        if self._port is None:
            raise RuntimeError("the server is not listening on a TCP socket")
        return self._port

    async def serve(self, *, install_signal_handlers: bool = False) -> None:
        """Start, serve until a shutdown is requested, then shut down gracefully.

        The signal handlers go in before anything starts: a stop signal that arrives as
        soon as the server says it is serving (or while the app starts) is a graceful
        stop, never a KeyboardInterrupt."""
        self._prepare()
        if install_signal_handlers:
            self._install_signal_handlers()
        try:
            await self.start()
            assert self._shutdown_requested is not None
            if self._force_early:
                self.force_exit()
            elif self._stop_early:
                self._shutdown_requested.set()
            await self._shutdown_requested.wait()
            # The handlers stay in place during the graceful shutdown: a second
            # Ctrl+C must reach them to force the exit.
            await self.stop()
        finally:
            self._remove_signal_handlers()

    def _prepare(self) -> asyncio.AbstractEventLoop:
        """The running loop and the shutdown events, made once."""
        if self._shutdown_requested is None:
            self.loop = asyncio.get_running_loop()
            self._shutdown_requested = asyncio.Event()
            self._force = asyncio.Event()
        assert self.loop is not None
        return self.loop

    async def start(self) -> None:
        """Load the app, run lifespan startup, bind and listen."""
        config = self.config
        loop = self._prepare()
        limit = loops.socket_limit(loop)
        if limit is not None:
            # Leave room for the listening socket and the loop's own self-pipe.
            if config.limit_concurrency is not None and config.limit_concurrency > limit - 12:
                raise ConfigError(
                    f"--limit-concurrency {config.limit_concurrency} is above what this loop "
                    f"can watch: {loops.describe(loop)} is limited by select() to {limit} "
                    "sockets",
                    hint=f"use --limit-concurrency {limit - 12} or less, or --loop proactor",
                )
            logger.info(
                "the selector loop on Windows uses select(), limited to %d sockets (new "
                "clients wait in the backlog there); --loop proactor (or winloop) has no "
                "such limit",
                limit,
            )
        app: ASGIApp = load_app(
            config.app,
            factory=config.factory,
            app_dir=config.app_dir,
            interface=config.interface,
            wsgi_threads=config.wsgi_threads,
        )
        await self._advise(loop)
        lifespan_state: dict[str, Any] = {}
        self.lifespan = Lifespan(app, config.lifespan, lifespan_state)
        if not await self.lifespan.startup():
            raise StartupError(
                "application startup failed"
                + (f": {self.lifespan.error}" if self.lifespan.error else ""),
                hint="see the log above; --lifespan off skips the lifespan protocol",
            )
        assert self._shutdown_requested is not None
        self.state = state = ServerState(
            config,
            app,
            connection_factory(self.http, config.limits()),
            lifespan_state,
            self._shutdown_requested,
        )

        def factory() -> Connection:
            return Connection(state, loop)

        if config.gc_freeze:
            _freeze_startup_objects()
        try:
            await self._listen(factory)
        except BaseException:
            await self.lifespan.shutdown()
            raise
        self._tick_date()
        self._log_started()
        self.ready.set()

    async def _advise(self, loop: asyncio.AbstractEventLoop) -> None:
        """Warn, one line each, when a library the app imported needs what this loop lacks
        (or the app set a policy xloop does not use): see :mod:`xloop.loops.advice`."""
        if not advice.worth_checking():
            return
        factory = loops.resolve(self.config.loop, self.config.selector).factory
        found = await loop.run_in_executor(
            None, advice.check_app, factory, loops.describe(loop), None
        )
        for warning in found:
            logger.warning("%s", warning.line())

    def _tick_date(self) -> None:
        """Refresh the Date header at each second boundary (a timer, not per request)."""
        if self.state is None or self.loop is None:
            return
        now = time.time()
        self.state.refresh_defaults(now)
        delay = 1.0 - (now % 1.0) + 0.001
        self._date_timer = self.loop.call_later(delay, self._tick_date)

    async def _listen(self, factory: Callable[[], Connection]) -> None:
        config = self.config
        loop = self.loop
        assert loop is not None
        tls: dict[str, Any] = {}
        if self.ssl is not None:
            tls = {"ssl": self.ssl, "ssl_handshake_timeout": config.timeout_ssl_handshake}
        try:
            sock = self._sock
            if sock is None and config.fd is not None:
                sock = socket.socket(fileno=config.fd)
            elif sock is None and config.uds is not None:
                sock = self._bind_uds(config.uds)
            cap = select_cap(loop)
            if sock is not None and self._accept_thread:
                self.listeners.append(AcceptThread(loop, factory, sock, tls, cap=cap))
            elif not tls and config.transport == "auto" and own_transport(loop):
                # the selector loop: xloop's own accept and transport (server/transport.py)
                if sock is not None:
                    sock.listen(config.backlog)  # (--uds, --fd: bind_every's already listen)
                socks = [sock] if sock is not None else bind_every(config)
                self.listeners.append(SelectorListener(loop, factory, socks, config.backlog))
            elif sock is None and cap is None:
                self.listeners.append(
                    await loop.create_server(
                        factory,
                        host=config.host,
                        port=config.port,
                        backlog=config.backlog,
                        reuse_address=True,
                        **tls,
                    )
                )
            else:
                if cap is not None:
                    # select() has a cap: listen through sockets that stop accepting at it
                    # (bound here, not by the loop, to be wrapped).
                    quiet_cap_errors(loop)
                for bound in [sock] if sock is not None else bind_every(config):
                    listening = bound if cap is None else CappedListener(bound, cap)
                    self.listeners.append(
                        await loop.create_server(
                            factory, sock=listening, backlog=config.backlog, **tls
                        )
                    )
        except OSError as exc:
            raise bind_error(exc, config) from None
        except NotImplementedError:
            if not tls:
                raise
            raise ConfigError(
                f"{loops.describe(loop)} cannot serve TLS: its create_server takes no ssl",
                hint="use another --loop with --ssl-certfile (asyncio, uvloop, ...)",
            ) from None
        self._learn_port()

    def _learn_port(self) -> None:
        for sock in self.sockets:
            name = sock.getsockname()
            if isinstance(name, tuple):
                self._port = int(name[1])
                break

    def _bind_uds(self, path: str) -> socket.socket:
        sock = bind_uds(path)
        self._uds_path = path
        return sock

    def _log_started(self) -> None:
        assert self.loop is not None
        config = self.config
        loop_text = loops.describe(self.loop)
        if config.uds is not None:
            where = f"unix:{config.uds}"
        elif config.fd is not None:
            where = f"fd {config.fd} ({self.sockets[0].getsockname() if self.sockets else '?'})"
        else:
            host = config.host
            if ":" in host:
                host = f"[{host}]"
            where = f"{'https' if self.ssl else 'http'}://{host}:{self.port}"
        logger.info("loop: %s", loop_text)
        logger.info("http: %s", self.http)
        logger.info("websocket: %s", self.ws)
        logger.info(SERVING, where)
        if self.status is not None:
            self.status.write(
                "ready",
                pid=os.getpid(),
                address=where,
                port=self._port,
                **loop_fields(self.loop),
                http=self.http,
                ws=self.ws,
            )

    def request_shutdown(self) -> None:
        """Ask for a graceful shutdown; safe to call from any thread or a signal handler,
        and before the loop runs (the server then stops as soon as it has started)."""
        self._stop_early = True
        loop = self.loop
        event = self._shutdown_requested
        if loop is None or event is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(event.set)

    def request_force(self) -> None:
        """:meth:`force_exit` from any thread, also before the loop runs."""
        self._force_early = True
        loop = self.loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(self.force_exit)

    def force_exit(self) -> None:
        """Abort in-flight requests now (a second Ctrl+C)."""
        self.forced = True
        if self._force is not None:
            self._force.set()
        if self._shutdown_requested is not None:
            self._shutdown_requested.set()

    async def stop(self) -> None:
        """Graceful shutdown: stop accepting, close idle connections, let requests finish
        (bounded by ``timeout_graceful_shutdown``), run lifespan shutdown."""
        state = self.state
        if self.status is not None:
            self.status.write("stopping")
        if self._date_timer is not None:
            self._date_timer.cancel()
            self._date_timer = None
        for listener in self.listeners:
            listener.close()
        if state is not None:
            state.shutting_down = True
            for connection in list(state.connections):
                connection.shutdown()
            loop = asyncio.get_running_loop()
            timeout = self.config.timeout_graceful_shutdown
            deadline = None if timeout is None else loop.time() + timeout
            finished = await self._wait_closed(timeout)
            if finished and state.orphans:
                finished = await self._wait_orphans(deadline)
            if not finished:
                logger.warning(
                    "%s: aborting %d connection(s), %d request(s)",
                    "forced exit" if self.forced else "graceful shutdown timed out",
                    len(state.connections),
                    state.active,
                )
                for connection in list(state.connections):
                    connection.abort()
                for task in list(state.orphans):
                    task.cancel()
                await self._wait_closed(5.0, forceable=False)
                await self._wait_orphans(loop.time() + 5.0, forceable=False)
            state.idle.close()  # every connection is gone: no idle deadline to keep
        for listener in self.listeners:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.wait_closed(), 5.0)
        self.listeners.clear()
        if self._uds_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._uds_path)
            self._uds_path = None
        if self.lifespan is not None:
            lifespan, self.lifespan = self.lifespan, None
            await lifespan.shutdown()
        if state is not None:
            logger.info(STOPPED, state.total_requests, "requests", state.total_connections)
        else:
            logger.info("xloop stopped")
        if self.status is not None:
            self.status.write(
                "stopped",
                requests=0 if state is None else state.total_requests,
                connections=0 if state is None else state.total_connections,
                ws_messages=0 if state is None else state.total_ws_messages,
            )

    async def _wait_until(
        self, done: Awaitable[Any], timeout: float | None, forceable: bool
    ) -> None:
        """Wait for ``done``, at most ``timeout`` seconds, or a forced exit if ``forceable``."""
        assert self._force is not None
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(done)]
        if forceable:
            waiters.append(asyncio.ensure_future(self._force.wait()))
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _wait_closed(self, timeout: float | None, forceable: bool = True) -> bool:
        """Wait until every connection is closed; False on timeout or a forced exit."""
        state = self.state
        assert state is not None
        if state.connections:
            state.all_closed.clear()
            await self._wait_until(state.all_closed.wait(), timeout, forceable)
        return not state.connections

    async def _wait_orphans(self, deadline: float | None, forceable: bool = True) -> bool:
        """Wait for apps still running after their connection closed."""
        assert self.state is not None
        orphans = list(self.state.orphans)
        if orphans:
            loop = asyncio.get_running_loop()
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            await self._wait_until(asyncio.wait(orphans), timeout, forceable)
        return not self.state.orphans

    # -- signals -----------------------------------------------------------------------------

    def _on_signal(self, sig: int) -> None:
        assert self._shutdown_requested is not None
        if self._shutdown_requested.is_set():
            logger.warning("second %s: forcing exit", signal.Signals(sig).name)
            self.force_exit()
        else:
            logger.info("%s received: shutting down gracefully", signal.Signals(sig).name)
            self._shutdown_requested.set()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        assert self.loop is not None
        self._signal_cleanup = install_shutdown_handlers(self.loop, self._on_signal, self._signals)

    def _remove_signal_handlers(self) -> None:
        while self._signal_cleanup:
            with contextlib.suppress(Exception):
                self._signal_cleanup.pop()()
