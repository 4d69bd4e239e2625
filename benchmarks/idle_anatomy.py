"""Where the bytes of an idle keep-alive connection go, in one xloop server process.

    python benchmarks/idle_anatomy.py --loop selector --http h11 --connections 2000

The server runs in a thread of this process under ``tracemalloc``; a client process opens
``--connections`` connections, sends one ``GET`` to ``benchmarks.apps:hello`` on each,
reads the response and keeps them open (keep-alive, idle). Printed:

- the Python-heap growth per connection, by the line that allocated it (``tracemalloc``
  snapshots diffed around the client's connections; an allocation made in C with no Python
  frame of its own, such as uvloop's transport and libuv handle, shows at the last Python
  line on the stack: ``runners.py``). ``benchmarks/idle_memory.py`` measures the RSS;
- ``sys.getsizeof`` of the objects one idle connection holds (its protocol object, its
  sans-IO connection, the transport and what hangs from it).
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xloop import Config, Server, loops
from xloop.server.idle import PARK_AFTER

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmarks.apps, for the server

from benchmarks.idle_memory import raise_open_files  # noqa: E402

CLIENT = """
import asyncio, re, sys
async def main(port, count):
    held = []
    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\\r\\nHost: bench\\r\\n\\r\\n")
        head = await reader.readuntil(b"\\r\\n\\r\\n")
        length = re.search(rb"(?i)\\r\\ncontent-length: *(\\d+)", head)
        if length is None:
            await reader.readuntil(b"0\\r\\n\\r\\n")
        else:
            await reader.readexactly(int(length.group(1)))
        held.append(writer)
    for start in range(0, count, 250):
        await asyncio.gather(*(one() for _ in range(min(250, count - start))))
    print("held", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for writer in held:
        writer.close()
asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
"""


def run_server(loop: str, http: str) -> tuple[Server, Any]:
    import threading

    config = Config(
        app="benchmarks.apps:hello",
        loop=loop,
        http=http,
        host="127.0.0.1",
        port=0,
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=600,
        backlog=4096,
    )
    server = Server(config)
    choice = loops.resolve(config.loop, config.selector)
    thread = threading.Thread(
        target=loops.run, args=(server.serve(),), kwargs={"loop_factory": choice.factory}
    )
    thread.daemon = True
    thread.start()
    if not server.ready.wait(30):
        raise SystemExit("server did not start")
    return server, thread


def hold(port: int, count: int) -> subprocess.Popen[str]:
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, str(port), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert client.stdout is not None
    if client.stdout.readline().strip() != "held":
        raise SystemExit("the client failed")
    return client


def release(client: subprocess.Popen[str]) -> None:
    assert client.stdin is not None
    client.stdin.write("\n")
    client.stdin.flush()
    client.wait(60)


def wait_idle(server: Server, count: int) -> None:
    state = server.state
    assert state is not None
    deadline = time.monotonic() + 60
    while len(state.idle) < count or len(state.connections) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(state.idle)} idle of {count}")
        time.sleep(0.05)
    time.sleep(PARK_AFTER + 0.5)  # what an idle connection holds once it has parked


def deep_sizes(connection: Any) -> Iterator[tuple[str, int]]:
    """(what, bytes) for the objects one idle connection holds (a container's size
    includes the items no other object shares)."""
    yield type(connection).__qualname__, sys.getsizeof(connection)
    http = connection.http
    yield f"  .http: {type(http).__qualname__}", sys.getsizeof(http)
    for name in sorted(_slots(type(http))):
        value = getattr(http, name, None)
        size = _own_size(value)
        if size:
            yield f"    .http.{name}: {type(value).__qualname__}", size
    for name in ("client", "server", "idle_since"):
        value = getattr(connection, name, None)
        if value is not None:
            yield f"  .{name}: {type(value).__qualname__}", _own_size(value)
    transport = connection.transport
    yield f"  .transport: {type(transport).__qualname__}", _own_size(transport)
    for name in ("_extra", "_buffer", "_sock"):
        value = getattr(transport, name, None)
        if value is not None:
            yield f"    .transport.{name}: {type(value).__qualname__}", _own_size(value)


def _slots(cls: type) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        names.update(getattr(klass, "__slots__", ()))
    return names


def _own_size(value: Any) -> int:
    if value is None or isinstance(value, bool) or (type(value) is int and -5 <= value <= 256):
        return 0  # shared by everyone
    size = sys.getsizeof(value)
    if hasattr(value, "__dict__"):
        size += sys.getsizeof(value.__dict__)
    if isinstance(value, (tuple, list)):
        size += sum(_own_size(item) for item in value)
    if isinstance(value, dict):
        size += sum(_own_size(item) for item in value.values())
    return size


def _where(frame: tracemalloc.Frame) -> str:
    name = frame.filename
    if "site-packages" in name:
        name = name.split("site-packages" + os.sep, 1)[1]
    elif name.startswith(str(ROOT)):
        name = os.path.relpath(name, ROOT)
    else:
        name = Path(name).name  # the standard library
    return f"{name}:{frame.lineno}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop", default="selector")
    parser.add_argument("--http", default="h11")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--top", type=int, default=30, help="allocation sites shown")
    parser.add_argument("--frames", type=int, default=1, help="traceback depth to group by")
    args = parser.parse_args()
    raise_open_files(args.connections + 200)
    os.chdir(ROOT)
    tracemalloc.start(args.frames)
    server, _ = run_server(args.loop, args.http)
    # Warm up: what the first requests import and cache is not per connection.
    release(hold(server.port, 50))
    time.sleep(0.5)
    gc.collect()
    before = tracemalloc.take_snapshot()
    count = args.connections
    client = hold(server.port, count)
    wait_idle(server, count)
    gc.collect()
    after = tracemalloc.take_snapshot()
    state = server.state
    assert state is not None
    connection = next(iter(state.connections))
    sizes = list(deep_sizes(connection))
    release(client)
    server.request_shutdown()

    stats = after.compare_to(before, "traceback" if args.frames > 1 else "lineno")
    traced = sum(stat.size_diff for stat in stats)
    print(
        f"{args.loop}/{args.http}: {count} idle connections, Python heap +{traced / count:.0f} B "
        "each (tracemalloc)"
    )
    print(f"{'B/conn':>7} {'blocks/conn':>11}  allocated at (most recent call last)")
    for stat in stats[: args.top]:
        if abs(stat.size_diff) < count * 4:
            break
        where = " > ".join(_where(frame) for frame in stat.traceback)
        print(f"{stat.size_diff / count:7.0f} {stat.count_diff / count:11.2f}  {where}")
    print()
    print("sys.getsizeof, one idle connection:")
    for what, size in sizes:
        print(f"{size:7d}  {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
