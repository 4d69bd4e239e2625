"""Load the ASGI application named on the command line."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

from .errors import AppLoadError

__all__ = ["app_dir_first", "import_from_string", "load_app"]


def app_dir_first(app_dir: str) -> None:
    """Put ``--app-dir`` first on ``sys.path`` (once): the app is imported from there, and
    so is a loop factory module (``--loop mymod:factory``), resolved before the app loads."""
    path = os.path.abspath(app_dir)
    if path not in sys.path:
        sys.path.insert(0, path)


def import_from_string(spec: str) -> Any:
    """``package.module:attr.sub`` to the object, or :class:`AppLoadError` with a hint."""
    module_name, sep, attrs = spec.partition(":")
    if not sep or not module_name or not attrs:
        raise AppLoadError(
            f"APP must be module:attribute, got {spec!r}",
            hint="e.g. 'main:app' for the variable app in main.py",
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if (
            exc.name is not None
            and module_name.startswith(exc.name)
            and (exc.name == module_name or module_name.startswith(exc.name + "."))
        ):
            raise AppLoadError(
                f"could not import module {module_name!r}",
                hint="check the name, or use --app-dir DIR for the directory it is in",
            ) from None
        raise AppLoadError(
            f"importing {module_name!r} failed: {exc}",
            hint="a module it imports is missing; install it",
        ) from None
    except Exception as exc:
        raise AppLoadError(
            f"importing {module_name!r} raised {type(exc).__name__}: {exc}",
            hint="the module fails on import; run 'python -c \"import "
            + module_name
            + "\"' to see the traceback",
        ) from None
    obj: Any = module
    for part in attrs.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AppLoadError(
                f"attribute {attrs!r} not found in module {module_name!r}",
                hint=f"the names defined there include: {_public_names(module)}",
            ) from None
    return obj


def _public_names(module: Any) -> str:
    names = [name for name in vars(module) if not name.startswith("_")]
    callables = [name for name in names if callable(getattr(module, name, None))]
    shown = (callables or names)[:8]
    return ", ".join(shown) if shown else "(nothing public)"


def load_app(
    app: Any,
    *,
    factory: bool = False,
    app_dir: str | None = None,
    interface: str = "asgi3",
    wsgi_threads: int = 10,
) -> Any:
    """Resolve ``app`` (an object or a module:attr string) to an ASGI 3 callable: as it is,
    or adapted from ASGI 2 or WSGI (``interface``; ``auto`` detects it, :func:`detect`)."""
    if isinstance(app, str):
        if app_dir is not None:
            app_dir_first(app_dir)
        obj = import_from_string(app)
        name = app
    else:
        obj = app
        name = repr(app)
    if factory:
        if not callable(obj):
            raise AppLoadError(
                f"{name} is not callable, so it cannot be a factory", hint="drop --factory"
            )
        try:
            obj = obj()
        except TypeError as exc:
            raise AppLoadError(
                f"calling the factory {name} failed: {exc}",
                hint="--factory needs a callable that takes no arguments",
            ) from None
    if not callable(obj):
        raise AppLoadError(
            f"{name} is not callable (it is a {type(obj).__name__})",
            hint="APP must name an ASGI application: async def app(scope, receive, send)",
        )
    if not factory and _looks_like_factory(obj):
        raise AppLoadError(
            f"{name} takes no arguments: it looks like an app factory",
            hint="add --factory",
        )
    if interface == "auto":
        interface = detect(obj)
    if interface == "asgi2":
        return _ASGI2(obj)
    if interface == "wsgi":
        try:
            from a2wsgi import WSGIMiddleware
        except ImportError:
            raise AppLoadError(
                f"{name} is a WSGI app, and serving WSGI needs a2wsgi, which is not installed",
                hint="pip install 'xloop[wsgi]'",
            ) from None
        return WSGIMiddleware(obj, workers=wsgi_threads)
    return obj


def detect(app: Any) -> str:
    """``asgi3``, ``asgi2`` or ``wsgi``, from what ``app`` is.

    A coroutine function (or an object whose ``__call__`` is one, or a class whose
    instances are awaitable) is ASGI 3. Otherwise its call signature decides: two
    positional parameters (``environ, start_response``: Flask, Django's WSGIHandler) is
    WSGI; one (``scope``: an ASGI 2 class or callable) is ASGI 2. (uvicorn's ``auto`` knows
    no WSGI, and would run Flask as ASGI 2.)
    """
    if inspect.isclass(app):
        if hasattr(app, "__await__"):
            return "asgi3"
        target: Any = app
    elif inspect.isfunction(app) or inspect.ismethod(app):
        if inspect.iscoroutinefunction(app):
            return "asgi3"
        target = app
    else:
        call = getattr(app, "__call__", None)  # noqa: B004 - the method itself is wanted
        if inspect.iscoroutinefunction(call):
            return "asgi3"
        target = call
    try:
        parameters = [
            p
            for p in inspect.signature(target).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
    except (TypeError, ValueError):  # no signature: take the ASGI 3 default
        return "asgi3"
    if len(parameters) == 2:
        return "wsgi"
    if len(parameters) == 1:
        return "asgi2"
    return "asgi3"


class _ASGI2:
    """An ASGI 2 app (``app(scope)`` returns ``instance(receive, send)``) as ASGI 3."""

    __slots__ = ("app",)

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        instance = self.app(scope)
        await instance(receive, send)


def _looks_like_factory(obj: Any) -> bool:
    if not inspect.isfunction(obj) or inspect.iscoroutinefunction(obj):
        return False
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    return len(signature.parameters) == 0
