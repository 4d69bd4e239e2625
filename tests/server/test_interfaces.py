"""``--interface``: ASGI 3, ASGI 2 and WSGI apps (Flask, Django's WSGI handler, a bare WSGI
callable) served unchanged, on every loop and parser; and what ``auto`` detects."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from xloop.importer import detect, load_app

from .apps import hello
from .client import POST_HEAD, Reader, exchange, get
from .harness import TIMEOUT, Backend, serving

flask = pytest.importorskip("flask", exc_type=ImportError)


# -- apps ------------------------------------------------------------------------------------


def wsgi_echo(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    """A bare WSGI app: echoes the body it reads in chunks, streamed back in pieces."""
    stream = environ["wsgi.input"]
    chunks = []
    while chunk := stream.read(4096):
        chunks.append(chunk)
    body = b"".join(chunks)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    yield environ["PATH_INFO"].encode() + b":"
    for start in range(0, len(body), 1000):
        yield body[start : start + 1000]


class ASGI2App:
    """An ASGI 2 app: the class is called with the scope, the instance with receive, send."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        if self.scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"asgi2 " + self.scope["path"].encode()})


def asgi2_function(scope: dict[str, Any]) -> Any:
    async def instance(receive: Any, send: Any) -> None:
        await ASGI2App(scope)(receive, send)

    return instance


def make_flask() -> Any:
    app = flask.Flask("xloop_test")

    def greet(name: str) -> str:
        return f"Hello, {name}!"

    def upload() -> dict[str, Any]:
        data = flask.request.get_data()
        return {"size": len(data), "first": data[:5].decode()}

    def stream() -> Any:
        return flask.Response(f"line {n}\n" for n in range(100))

    app.add_url_rule("/hello/<name>", view_func=greet)
    app.add_url_rule("/upload", view_func=upload, methods=["POST"])
    app.add_url_rule("/stream", view_func=stream)
    return app


def make_django() -> Any:
    django = pytest.importorskip("django", exc_type=ImportError)
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="not-a-secret",
            ROOT_URLCONF=__name__,
            ALLOWED_HOSTS=["*"],
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
        )
        django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler()


def _django_view(request: Any, name: str) -> Any:
    from django.http import HttpResponse

    return HttpResponse(f"django says hello to {name} ({request.method})")


def _urlpatterns() -> list[Any]:
    from django.urls import path

    return [path("hi/<str:name>", _django_view)]


def __getattr__(name: str) -> Any:  # Django's ROOT_URLCONF reads urlpatterns lazily
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


# -- detection -------------------------------------------------------------------------------


class ASGI3Object:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """An ASGI 3 app as an object."""


class AwaitableApp:
    """An ASGI 3 app as a class whose instances are awaitable (constructed per call)."""

    def __init__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scope = scope

    def __await__(self) -> Any:
        yield from ()


def returns_a_coroutine(scope: Any, receive: Any, send: Any) -> Any:
    """A plain function (a decorator's wrapper, say) that returns the app's coroutine."""
    return hello(scope, receive, send)


class NoSignature(dict[str, Any]):
    """A class whose signature Python cannot read (a builtin's constructor)."""


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (hello, "asgi3"),
        (ASGI3Object(), "asgi3"),
        (AwaitableApp, "asgi3"),
        (returns_a_coroutine, "asgi3"),
        (NoSignature, "asgi3"),
        (ASGI2App, "asgi2"),
        (asgi2_function, "asgi2"),
        (wsgi_echo, "wsgi"),
        (make_flask(), "wsgi"),
    ],
    ids=[
        "asgi3-function",
        "asgi3-object",
        "asgi3-awaitable-class",
        "asgi3-three-parameters",
        "no-signature-default",
        "asgi2-class",
        "asgi2-function",
        "wsgi",
        "flask",
    ],
)
def test_auto_detects_the_interface(app: Any, expected: str) -> None:
    """Coroutines and three parameters are ASGI 3, one parameter ASGI 2, two WSGI; what
    cannot be told apart is ASGI 3, the default."""
    assert detect(app) == expected


def test_django_and_starlette_are_detected() -> None:
    starlette = pytest.importorskip("starlette.applications", exc_type=ImportError)
    assert detect(make_django()) == "wsgi"
    assert detect(starlette.Starlette()) == "asgi3"


def test_an_explicit_interface_wins_over_detection() -> None:
    wrapped = load_app(wsgi_echo, interface="wsgi")
    assert type(wrapped).__name__ == "WSGIMiddleware"
    assert load_app(hello, interface="asgi3") is hello


# -- served ----------------------------------------------------------------------------------


@pytest.mark.parametrize("interface", ["auto", "asgi2"])
def test_an_asgi2_app(backend: Backend, interface: str) -> None:
    with serving(ASGI2App, backend, interface=interface) as server, server.connect() as sock:
        response = exchange(sock, get("/two"))
        assert (response.status, response.body) == (200, b"asgi2 /two")


@pytest.mark.parametrize("interface", ["auto", "wsgi"])
def test_flask_served_unchanged(backend: Backend, interface: str) -> None:
    with serving(make_flask(), backend, interface=interface) as server, server.connect() as sock:
        response = exchange(sock, get("/hello/xloop"))
        assert (response.status, response.body) == (200, b"Hello, xloop!")
        body = b"hello" + b"x" * 300_000
        response = exchange(sock, POST_HEAD.replace(b"/", b"/upload", 1) % len(body) + body)
        assert response.status == 200
        assert json.loads(response.body) == {"size": len(body), "first": "hello"}
        response = exchange(sock, get("/stream"))
        assert response.body == "".join(f"line {n}\n" for n in range(100)).encode()
        assert exchange(sock, get("/missing")).status == 404


def test_django_wsgi_handler_served_unchanged(backend: Backend) -> None:
    with serving(make_django(), backend) as server, server.connect() as sock:
        response = exchange(sock, get("/hi/xloop"))
        assert (response.status, response.body) == (200, b"django says hello to xloop (GET)")
        assert exchange(sock, get("/nowhere")).status == 404


def test_a_bare_wsgi_app_streams_a_large_body_both_ways(backend: Backend) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB
    with serving(wsgi_echo, backend) as server, server.connect() as sock:
        response = exchange(sock, POST_HEAD % len(body) + body)
        assert response.status == 200
        assert response.body == b"/:" + body


def test_the_wsgi_thread_pool_is_bounded(backend: Backend) -> None:
    """Six requests at once on two threads: never more than two run the app at a time,
    and every request is answered."""
    lock = threading.Lock()
    running = [0, 0]  # now, most
    release = threading.Event()
    entered = threading.Semaphore(0)

    def slow(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        entered.release()
        release.wait(TIMEOUT)
        with lock:
            running[0] -= 1
        start_response("200 OK", [])
        return [b"done"]

    with serving(slow, backend, wsgi_threads=2) as server:
        socks = [server.connect() for _ in range(6)]
        try:
            for sock in socks:
                sock.sendall(get())
            for _ in range(2):
                assert entered.acquire(timeout=TIMEOUT)
            assert not entered.acquire(timeout=0.2)  # a third does not get a thread
            release.set()
            bodies = [Reader(sock).response().body for sock in socks]
        finally:
            release.set()
            for sock in socks:
                sock.close()
    assert bodies == [b"done"] * 6
    assert running[1] == 2
