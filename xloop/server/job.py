"""Windows: the job object that keeps a killed supervisor from leaving a process behind.

A worker whose supervisor has gone sees its stdin at end of file, drains and exits
(:mod:`xloop.server.worker`). That needs a worker that runs. On Windows, ``CreateProcess``
creates a process with its first thread suspended and resumes that thread only at its end:
a supervisor ended (``TerminateProcess``: ``taskkill /F``, ``Popen.kill()``) while it was
inside ``CreateProcess`` (starting a worker, or the spare, which it does as the workers
come up) leaves a process that never runs a single instruction, never reads its stdin, and
waits for ever. No code in that process can notice anything, so the remedy is outside it:

- the supervisor places itself in a job object that ends every process still in it when
  its last handle closes (``JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE``). Each process it starts
  is in the job from its creation on, the half-created one included; nothing has to be
  done in between, so there is no moment for a kill to fall into.
- each worker it has started is given a handle to the job (:func:`share_job`), not
  inheritable. A supervisor that is killed so leaves the job open for as long as a worker
  drains, exactly as on POSIX; the last worker to exit closes it, and what is still in the
  job then ends: a process that never started, and what the app started and left running.
  (A process the app starts can leave the job: ``CREATE_BREAKAWAY_FROM_JOB``.)

The job is created once per process and never closed here: closing its last handle would
end the supervisor itself, which is in it. Where it cannot be had (:func:`join_job`
returns None, and says why), workers are started as before.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
from typing import Any

from .. import loops
from ..logs import error_logger as logger

__all__ = ["join_job", "share_job"]

_EXTENDED_LIMIT_INFORMATION = 9  # JobObjectExtendedLimitInformation
_KILL_ON_JOB_CLOSE = 0x2000
_BREAKAWAY_OK = 0x0800
_PROCESS_DUP_HANDLE = 0x0040
_DUPLICATE_SAME_ACCESS = 0x0002


class _BasicLimits(ctypes.Structure):  # JOBOBJECT_BASIC_LIMIT_INFORMATION
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_int64),
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", ctypes.c_uint32),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", ctypes.c_uint32),
        ("Affinity", ctypes.c_size_t),
        ("PriorityClass", ctypes.c_uint32),
        ("SchedulingClass", ctypes.c_uint32),
    ]


class _ExtendedLimits(ctypes.Structure):  # JOBOBJECT_EXTENDED_LIMIT_INFORMATION
    _fields_ = [
        ("BasicLimitInformation", _BasicLimits),
        ("IoInfo", ctypes.c_uint64 * 6),  # IO_COUNTERS
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


@functools.cache
def join_job() -> int | None:
    """The job this process and the workers it starts are in (created and joined on the
    first call; the same answer after), or None: not Windows, or Windows refused (logged
    once)."""
    if not loops.IS_WINDOWS:
        return None
    try:  # pragma: windows-only
        return _create_and_join()
    except OSError as exc:  # pragma: windows-only
        logger.warning(
            "no job object for the workers (%s): a worker whose supervisor is "
            "killed while starting it may be left behind",
            exc,
        )
        return None


def _create_and_join() -> int:  # pragma: windows-only
    windll: Any = getattr(ctypes, "WinDLL")  # noqa: B009 - Windows only
    kernel32 = windll("kernel32", use_last_error=True)
    handle = ctypes.c_void_p
    kernel32.CreateJobObjectW.argtypes = [ctypes.c_void_p, ctypes.c_wchar_p]
    kernel32.CreateJobObjectW.restype = handle
    kernel32.SetInformationJobObject.argtypes = [
        handle, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32,
    ]  # fmt: skip
    kernel32.AssignProcessToJobObject.argtypes = [handle, handle]
    kernel32.CloseHandle.argtypes = [handle]

    last_error: Any = getattr(ctypes, "get_last_error")  # noqa: B009 - Windows only
    message: Any = getattr(ctypes, "FormatError")  # noqa: B009 - Windows only

    def failed(what: str) -> OSError:
        code = last_error()
        return OSError(code, f"{what}: {message(code)}")

    job = kernel32.CreateJobObjectW(None, None)
    if not job:
        raise failed("CreateJobObject")
    limits = _ExtendedLimits()
    limits.BasicLimitInformation.LimitFlags = _KILL_ON_JOB_CLOSE | _BREAKAWAY_OK
    size = ctypes.sizeof(limits)
    if not kernel32.SetInformationJobObject(
        job, _EXTENDED_LIMIT_INFORMATION, ctypes.byref(limits), size
    ):
        error = failed("SetInformationJobObject")
        kernel32.CloseHandle(job)
        raise error
    # -1: this process (GetCurrentProcess's pseudo-handle)
    if not kernel32.AssignProcessToJobObject(job, handle(-1)):
        error = failed("AssignProcessToJobObject")
        kernel32.CloseHandle(job)  # nothing is in it yet: this ends nothing
        raise error
    return int(job)


def share_job(job: int, pid: int) -> None:  # pragma: windows-only
    """Give the worker ``pid`` (started by this process, so in the job) a handle to the job:
    the job then stays open while that worker runs, this process gone or not."""
    winapi: Any = importlib.import_module("_winapi")
    try:
        process = winapi.OpenProcess(_PROCESS_DUP_HANDLE, False, pid)
    except OSError as exc:  # it has already exited: it holds nothing open
        logger.debug("job handle not given to process %d: %s", pid, exc)
        return
    try:
        # not inheritable: the processes the worker starts do not keep the job open
        winapi.DuplicateHandle(
            winapi.GetCurrentProcess(), job, process, 0, False, _DUPLICATE_SAME_ACCESS
        )
    except OSError as exc:
        logger.debug("job handle not given to process %d: %s", pid, exc)
    finally:
        winapi.CloseHandle(process)
