"""The supervisor of ``xloop serve --workers N`` and ``--reload``: worker processes, their
health, restarts, and a shutdown that ends.

The supervisor binds the listener once (:mod:`xloop.server.listener`) and never imports the
app. Each worker is ``python -m xloop.server.worker`` (spawned, on every OS), started with
the validated config and the listener (:mod:`xloop.server.worker` describes both channels).
How the listener is shared is the loop shim's call (:func:`xloop.loops.worker_plan`):
inherited and served by each worker's loop on POSIX; on Windows, served by an accept thread
in each worker that hands connections to the loop (:mod:`xloop.server.handoff`), so the
proactor loop and winloop keep their IOCP and no ``select()`` cap applies. On Windows the
supervisor and its workers share a job object (:mod:`xloop.server.job`), so that a supervisor
killed while it starts a worker leaves no process behind that never ran.

Everything the supervisor reacts to arrives as an event in one queue, handled on one
asyncio loop: a worker's status events (read by a thread per worker), a worker's exit
(a thread per worker waits for it), signals, file changes (``--reload``) and timers.

Signals (one meaning each, on every OS where the signal exists):

====================  =================================================================
SIGINT, SIGTERM,      every worker drains gracefully (``--timeout-graceful-shutdown``);
SIGBREAK (Ctrl+C,     the supervisor exits 0. A second one: in-flight requests are cut.
Ctrl+Break)
SIGHUP                rolling restart: for each worker in turn, a new one starts and
                      serves before the old one drains, so no request fails.
SIGTTIN / SIGTTOU     one worker more / one fewer.
====================  =================================================================

With ``--workers``, one spare process waits, Python and xloop imported, to take the next
worker's place (:mod:`xloop.server.process`): a replacement has only its app to import.
A worker that exits by itself (``--limit-max-requests``, a crash, ``kill -9``) is replaced at
once; one that crashes again soon after starting is replaced after a growing delay. A worker
that fails before serving (the app does not import, the port is gone) stops the run with its
own one-line message and exit code if no worker ever started, or after it failed
:data:`MAX_START_FAILURES` times in a row. A worker whose loop does not answer a heartbeat
for ``--timeout-worker-healthcheck`` seconds is killed and replaced; one whose resident
memory passed ``--limit-worker-memory`` is replaced gracefully, like a rolling restart.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import itertools
import os
import random
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

from ..errors import AppLoadError, BindError, ConfigError, StartupError, XloopError
from ..logs import error_logger as logger
from ..loops.workers import worker_plan
from ..status import StatusWriter
from .job import join_job, share_job
from .listener import bind_listener
from .process import WorkerProcess
from .server import install_shutdown_handlers
from .worker import bootstrap_line

if TYPE_CHECKING:
    import socket

    from ..config import Config

__all__ = ["MAX_START_FAILURES", "Supervisor", "run_supervisor"]

#: A worker that fails this many times in a row before serving stops the run.
MAX_START_FAILURES = 5
#: A worker that served at least this long before dying is restarted at once.
_STABLE_S = 10.0
_BACKOFF_FIRST_S = 0.1
_BACKOFF_MAX_S = 10.0
#: After the graceful shutdown's own bound, how long a worker may take to exit before it
#: is killed; and after a forced exit.
_EXIT_GRACE_S = 10.0
_FORCE_GRACE_S = 5.0

#: A worker's start-up failure becomes the supervisor's, with its exit code.
_ERRORS: dict[int, type[XloopError]] = {
    e.exit_code: e for e in (ConfigError, AppLoadError, BindError)
}

_SIGHUP = getattr(signal, "SIGHUP", None)
_SIGTTIN = getattr(signal, "SIGTTIN", None)
_SIGTTOU = getattr(signal, "SIGTTOU", None)


class Supervisor:
    """Runs ``config.workers`` workers (one with ``--reload``) until told to stop."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.target = config.workers or 1
        self.plan = worker_plan(config.loop, config.selector, self.target)
        self.workers: dict[int, WorkerProcess] = {}
        """The current worker of each slot (1..target)."""
        self.retired: set[WorkerProcess] = set()
        """Workers told to stop, still draining."""
        self.stopping = False
        self.forced = False
        self.exit_code = 0
        self.fatal: str | None = None
        self.fatal_hint: str | None = None
        self._events: asyncio.Queue[tuple[Any, ...]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: socket.socket | None = None
        self._ever_ready = False
        self._start_failures: dict[int, int] = {}
        self._crashes: dict[int, int] = {}
        self._pings = itertools.count(1)
        self._timers: set[asyncio.TimerHandle] = set()
        self._rolling: asyncio.Task[None] | None = None
        self._successor: WorkerProcess | None = None
        """The new worker a rolling restart waits for."""
        self._watcher: Any = None
        self._spare: WorkerProcess | None = None
        self._job: int | None = None
        """Windows: the job every worker is in (:mod:`xloop.server.job`)."""
        # --status-fd: the supervisor's own events (xloop.status)
        self.status = None if config.status_fd is None else StatusWriter.open(config.status_fd)
        self._announced = False
        self._served = {"requests": 0, "connections": 0, "ws_messages": 0}

    # -- the run -------------------------------------------------------------------------

    async def run(self) -> int:
        """Serve until stopped; return the exit code."""
        self._loop = loop = asyncio.get_running_loop()
        self._events = asyncio.Queue()
        self._listener = bind_listener(self.config)
        self._job = join_job()
        cleanup = self._install_signals()
        try:
            self._log_plan()
            for number in range(1, self.target + 1):
                self._spawn(number)
            self._heartbeat()
            if self.config.reload:
                from .reload import Watcher

                self._watcher = Watcher(self.config, self._post)
                self._watcher.start()
            while not (self.stopping and not self._alive()):
                event = await self._events.get()
                self._handle(*event)
        finally:
            for undo in cleanup:
                with contextlib.suppress(Exception):
                    undo()
            for timer in self._timers:
                timer.cancel()
            if self._watcher is not None:
                self._watcher.stop()
            for worker in self._alive():
                worker.kill()
            if self._spare is not None:
                self._spare.dismiss()
                self._spare.reap(_FORCE_GRACE_S)
            self._close_listener()
            del loop
        if self.fatal is not None:
            error = _ERRORS.get(self.exit_code, StartupError)(self.fatal, hint=self.fatal_hint)
            error.exit_code = self.exit_code
            raise error
        logger.info("supervisor [%d]: stopped", os.getpid())
        self._tell("stopped", **self._served)
        return self.exit_code

    def _tell(self, event: str, **fields: Any) -> None:
        if self.status is not None:
            self.status.write(event, **fields)

    def _announce(self, event: dict[str, Any]) -> None:
        """When every slot has a serving worker: the spare starts, and ``ready`` is told,
        once (the fields of the last one's ``ready``, with this process's pid and every
        worker's)."""
        serving = [self.workers.get(n) for n in range(1, self.target + 1)]
        if not all(w is not None and w.ready.is_set() for w in serving):
            return
        self._prepare_spare()  # not before: it would slow the workers' own start
        if self._announced:
            return
        self._announced = True
        fields = {key: value for key, value in event.items() if key != "event"}
        fields.update(pid=os.getpid(), workers=[w.pid for w in serving if w is not None])
        self._tell("ready", **fields)

    def _alive(self) -> list[WorkerProcess]:
        return [w for w in (*self.workers.values(), *self.retired) if not w.exited.is_set()]

    def _post(self, *event: Any) -> None:
        """Queue an event from any thread."""
        loop, events = self._loop, self._events
        if loop is None or events is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(events.put_nowait, event)

    def _later(self, delay: float, callback: Any, *args: Any) -> None:
        assert self._loop is not None
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            callback(*args)

        handle = self._loop.call_later(delay, fire)
        self._timers.add(handle)

    def _log_plan(self) -> None:
        plan = self.plan
        logger.info(
            "supervisor [%d]: %d worker%s on %s; listener %s",
            os.getpid(),
            self.target,
            "" if self.target == 1 else "s",
            plan.backend,
            plan.sharing_text,
        )
        if plan.cap is not None:  # pragma: windows-only
            logger.info("each worker is limited to %d sockets by select()", plan.cap)

    # -- workers -------------------------------------------------------------------------

    def _start(self) -> WorkerProcess:
        """A worker process, not yet told what to serve: it imports Python and xloop, then
        waits for its bootstrap line."""
        assert self._listener is not None
        fds = (self._listener.fileno(),) if self.plan.sharing == "inherit" else ()
        worker = WorkerProcess.start(fds, lambda w, event: self._post("status", w, event))
        if self._job is not None:  # pragma: windows-only
            share_job(self._job, worker.pid)
        threading.Thread(
            target=self._wait, args=(worker,), name=f"xloop-wait-{worker.pid}", daemon=True
        ).start()
        return worker

    def _spawn(self, number: int) -> WorkerProcess:
        """A worker for slot ``number``: the spare if there is one, else a new process."""
        config = self.config
        assert self._listener is not None
        worker, self._spare = self._spare, None
        if worker is None or worker.exited.is_set() or worker.proc.poll() is not None:
            worker = self._start()
        limit = config.limit_max_requests
        if limit is not None and config.limit_max_requests_jitter:
            limit += random.randint(0, config.limit_max_requests_jitter)
        if self.plan.sharing == "inherit":
            listener: dict[str, Any] = {"fd": self._listener.fileno()}
        else:  # pragma: windows-only
            share: Any = getattr(self._listener, "share")  # noqa: B009 - Windows only
            listener = {"share": base64.b64encode(share(worker.pid)).decode("ascii")}
        worker.adopt(
            number,
            bootstrap_line(
                config,
                number=number,
                status_fd=worker.status.child_fd,
                listener=listener,
                accept_thread=self.plan.sharing == "accept-thread",
                limit_max_requests=limit,
            ),
        )
        self.workers[number] = worker
        return worker

    def _prepare_spare(self) -> None:
        """Start the spare that takes the next worker's place (with --workers): a
        replacement then only has its app to import."""
        if self._spare is None and not self.config.reload and not self.stopping:
            self._spare = self._start()

    def _wait(self, worker: WorkerProcess) -> None:
        """(A thread.) Post the worker's exit once its last status events are posted: its
        ``failed`` event must be known when its exit is handled."""
        returncode = worker.proc.wait()
        worker.status.join(_FORCE_GRACE_S)
        self._post("exit", worker, returncode)

    def _handle(self, kind: str, worker: WorkerProcess, detail: Any = None) -> None:
        if kind == "status":
            self._on_status(worker, detail)
        elif kind == "exit":
            self._on_exit(worker, detail)
        elif kind == "signal":
            self._on_signal(detail)
        elif kind == "change":
            self._on_change(detail)

    def _on_status(self, worker: WorkerProcess, event: dict[str, Any]) -> None:
        name = event["event"]
        if name == "pong":
            worker.last_pong = time.monotonic()
            rss = event.get("rss")
            limit = self.config.limit_worker_memory
            over = limit is not None and isinstance(rss, int) and rss > limit * 1024 * 1024
            current = not worker.retiring and self.workers.get(worker.number) is worker
            if over and current and isinstance(rss, int):
                logger.warning(
                    "%s uses %.0f MiB (--limit-worker-memory %s): replacing it",
                    worker.describe(),
                    rss / 1024 / 1024,
                    limit,
                )
                self._replace_all([worker])
        elif name == "ready":
            worker.last_pong = time.monotonic()
            worker.loop_class = event.get("loop_class")
            worker.ready.set()
            self._ever_ready = True
            self._start_failures.pop(worker.number, None)
            logger.info(
                "%s serving: loop %s, http %s, websocket %s",
                worker.describe(),
                event.get("loop"),
                event.get("http"),
                event.get("ws"),
            )
            self._tell("worker", number=worker.number, pid=worker.pid, state="serving")
            self._announce(event)
        elif name == "waiting" and worker.number == 0:
            self._tell("worker", number=0, pid=worker.pid, state="spare")
        elif name == "stopping" and not (worker.retiring or self.stopping):
            # it stops by itself (--limit-max-requests, a SIGTERM of its own): its
            # successor starts now, not once it has drained
            if self.workers.get(worker.number) is worker:
                logger.info("%s is stopping by itself: starting another", worker.describe())
                self._retire_slot(worker)
                self._spawn(worker.number)
        elif name == "failed":
            worker.failure = event
        elif name == "stopped":
            for key in self._served:
                self._served[key] += int(event.get(key) or 0)

    def _on_exit(self, worker: WorkerProcess, returncode: int) -> None:
        worker.returncode = returncode
        worker.exited.set()
        stdin = worker.proc.stdin
        if stdin is not None:  # the pipe to a process that has gone
            with contextlib.suppress(OSError):
                stdin.close()
        if worker.number == 0:  # a spare, never adopted
            if self._spare is worker:
                self._spare = None
            return
        self._tell("worker", number=worker.number, pid=worker.pid, state="exited", code=returncode)
        self.retired.discard(worker)
        current = self.workers.get(worker.number) is worker
        if current:
            del self.workers[worker.number]
        if self.stopping or worker.retiring or not current:
            return
        how = _exit_text(returncode)
        if not worker.ready.is_set():
            self._failed_start(worker, how)
            return
        uptime = time.monotonic() - worker.started
        if returncode == 0:
            logger.info("%s exited (%s): starting another", worker.describe(), how)
            self._spawn(worker.number)
            return
        crashes = 0 if uptime >= _STABLE_S else self._crashes.get(worker.number, 0) + 1
        self._crashes[worker.number] = crashes
        delay = 0.0 if crashes <= 1 else min(_BACKOFF_MAX_S, _BACKOFF_FIRST_S * 2 ** (crashes - 2))
        logger.warning(
            "%s died (%s) after %.1f s: restarting%s",
            worker.describe(),
            how,
            uptime,
            f" in {delay:.1f} s" if delay else "",
        )
        self._later(delay, self._respawn, worker.number)

    def _failed_start(self, worker: WorkerProcess, how: str) -> None:
        failure = worker.failure or {}
        message = failure.get("message") or f"it exited ({how}) before serving"
        self.fatal_hint = failure.get("hint") or "see the worker's log above"
        message += f" (hint: {self.fatal_hint})" if self.config.reload else ""
        if worker is self._successor:  # the rolling restart keeps the old one: no retry
            logger.error("%s could not start: %s", worker.describe(), message)
            return
        failures = self._start_failures.get(worker.number, 0) + 1
        self._start_failures[worker.number] = failures
        if self.config.reload:
            logger.error("%s could not start: %s", worker.describe(), message)
            logger.info("waiting for a file change to try again")
            return
        if not self._ever_ready or failures >= MAX_START_FAILURES:
            times = "" if failures == 1 else f" ({failures} times in a row)"
            self.fatal = f"{worker.describe()} could not start{times}: {message}"
            self.exit_code = int(failure.get("exit_code") or 1)
            self._begin_stop(announce=False)
            return
        delay = min(_BACKOFF_MAX_S, _BACKOFF_FIRST_S * 2**failures)
        logger.error(
            "%s could not start: %s; trying again in %.1f s", worker.describe(), message, delay
        )
        self._later(delay, self._respawn, worker.number)

    def _retire_slot(self, worker: WorkerProcess) -> None:
        del self.workers[worker.number]
        self.retired.add(worker)
        worker.retiring = True

    def _respawn(self, number: int) -> None:
        if not self.stopping and number not in self.workers and number <= self.target:
            self._spawn(number)

    def _heartbeat(self) -> None:
        """Ping every serving worker; kill one whose loop has not answered in time."""
        timeout = self.config.timeout_worker_healthcheck
        now = time.monotonic()
        number = next(self._pings)
        for worker in list(self.workers.values()):
            if not worker.ready.is_set() or worker.exited.is_set():
                continue
            silent = now - worker.last_pong
            if silent > timeout and not self.stopping:
                logger.error(
                    "%s did not answer a heartbeat for %.1f s "
                    "(--timeout-worker-healthcheck %g): killing and replacing it",
                    worker.describe(),
                    silent,
                    timeout,
                )
                worker.retiring = True
                worker.kill()
                del self.workers[worker.number]
                self.retired.add(worker)
                self._spawn(worker.number)
            else:
                worker.send("ping", n=number)
        self._later(max(0.05, min(1.0, timeout / 4)), self._heartbeat)

    def _replace_all(self, olds: list[WorkerProcess]) -> None:
        """Start a new worker in each of ``olds``' slots in turn; retire each old one once
        its successor serves."""
        if self._rolling is not None and not self._rolling.done():
            logger.info("a rolling restart is under way: not starting another")
            return
        assert self._loop is not None
        self._rolling = self._loop.create_task(self._roll(olds))

    async def _roll(self, olds: list[WorkerProcess]) -> None:
        """One slot at a time: the new worker serves, then the old one drains."""
        for old in olds:  # (a stop cancels this task)
            if old.exited.is_set() or self.workers.get(old.number) is not old:
                continue
            del self.workers[old.number]
            self.retired.add(old)
            new = self._successor = self._spawn(old.number)
            ready = asyncio.ensure_future(new.ready.wait())
            gone = asyncio.ensure_future(new.exited.wait())
            try:
                await asyncio.wait((ready, gone), return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._successor = None
                ready.cancel()
                gone.cancel()
            if not new.ready.is_set():
                logger.error(
                    "rolling restart stopped: the new %s did not start; the old one serves on",
                    new.describe(),
                )
                self.retired.discard(old)
                if self.workers.get(old.number) is None:
                    self.workers[old.number] = old
                return
            old.retire()

    # -- signals and changes -------------------------------------------------------------

    def _install_signals(self) -> list[Any]:
        if threading.current_thread() is not threading.main_thread():
            return []
        loop = self._loop
        assert loop is not None
        cleanup = install_shutdown_handlers(loop, lambda sig: self._post("signal", None, sig))
        for sig in (_SIGHUP, _SIGTTIN, _SIGTTOU):
            if sig is not None:  # pragma: no branch - POSIX
                loop.add_signal_handler(sig, self._post, "signal", None, sig)
                cleanup.append(functools.partial(loop.remove_signal_handler, sig))
        return cleanup

    def _on_signal(self, sig: int) -> None:
        name = signal.Signals(sig).name
        if self.stopping and sig in (_SIGHUP, _SIGTTIN, _SIGTTOU):
            logger.info("%s received while stopping: ignored", name)
        elif sig == _SIGHUP:
            logger.info("%s received: restarting every worker, one at a time", name)
            self._replace_all(sorted(self.workers.values(), key=lambda w: w.number))
        elif sig == _SIGTTIN:
            self.target += 1
            logger.info("%s received: one worker more (%d)", name, self.target)
            self._spawn(self.target)
        elif sig == _SIGTTOU:
            if self.target <= 1:
                logger.info("%s received: already down to one worker", name)
                return
            worker = self.workers.pop(self.target, None)
            self.target -= 1
            logger.info("%s received: one worker fewer (%d)", name, self.target)
            if worker is not None:
                self.retired.add(worker)
                worker.retire()
        elif self.stopping:
            logger.warning("second %s: forcing exit", name)
            self._force()
        else:
            logger.info("%s received: stopping the workers gracefully", name)
            self._begin_stop(announce=True)

    def _on_change(self, paths: list[str]) -> None:
        if self.stopping:
            return
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        logger.info("changed: %s: reloading", shown)
        for worker in list(self.workers.values()):
            del self.workers[worker.number]
            self.retired.add(worker)
            worker.retire()
        self._start_failures.clear()
        self._spawn(1)

    def _begin_stop(self, *, announce: bool) -> None:
        self.stopping = True
        if self._spare is not None:
            self._spare.dismiss()
        if self._rolling is not None:
            self._rolling.cancel()
        for worker in self._alive():
            worker.retire()
        bound = self.config.timeout_graceful_shutdown
        if bound is not None:
            self._later(bound + _EXIT_GRACE_S, self._kill_all, "did not exit after draining")
        if announce and self._alive():
            logger.info("waiting for %d worker(s) to drain", len(self._alive()))
        self._post("wake", None)  # the run loop looks again, even with no worker left

    def _force(self) -> None:
        self.forced = True
        for worker in self._alive():
            worker.send("force")
        self._later(_FORCE_GRACE_S, self._kill_all, "did not exit when forced")

    def _kill_all(self, why: str) -> None:
        for worker in self._alive():
            logger.warning("%s %s: killing it", worker.describe(), why)
            worker.kill()

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self.config.uds is not None and self.config.fd is None:
            with contextlib.suppress(OSError):
                os.unlink(self.config.uds)


def _exit_text(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-returncode).name}"
        return f"signal {-returncode}"
    return f"exit code {returncode}"


def run_supervisor(config: Config) -> int:
    """Run the supervisor on the stdlib loop of this OS; its exit code."""
    supervisor = Supervisor(config)
    return asyncio.run(supervisor.run())
