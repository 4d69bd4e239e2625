#!/usr/bin/env python3
"""Socket-free micro-benchmark of the sans-IO HTTP/1.1 adapters' per-request path.

Two workloads, each on a fresh connection per iteration:

- ``parse``: feed two pipelined GETs (``receive_data``) and take the events;
- ``cycle``: the same, then answer each request (``response_whole``) and release the
  second with ``start_next_cycle``: what the server does per request, minus the I/O.

Run it with the project's interpreter; it prints microseconds per iteration, the best
of ``--repeat`` runs (the least disturbed by other load)::

    .venv/bin/python benchmarks/http_micro.py
    .venv/bin/python benchmarks/http_micro.py --number 100000 --repeat 7 --adapters httptools

To compare two versions of the code, run it alternately from each checkout (or with
``PYTHONPATH`` pointing at each) a few times and compare the best figures.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

from xloop.http import (
    END_OF_MESSAGE,
    DefaultHeaders,
    HTTPConnection,
    Limits,
    Request,
    connection_factory,
)

TWO_GETS = (
    b"GET /a HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
    b"GET /b?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
)
DEFAULTS = DefaultHeaders([(b"server", b"xloop")])
HEADERS = [(b"content-type", b"text/plain")]


Factory = Callable[[], HTTPConnection]


def parse(factory: Factory) -> Callable[[], object]:
    def run() -> object:
        return factory().receive_data(TWO_GETS)

    return run


def cycle(factory: Factory) -> Callable[[], object]:
    def run() -> object:
        conn = factory()
        events = conn.receive_data(TWO_GETS)
        served = 0
        while events:
            request = events[0]
            assert type(request) is Request, events
            assert events[-1] is END_OF_MESSAGE, events
            conn.begin_response(request)
            conn.response_whole(200, HEADERS, DEFAULTS, b"hello", False)
            served += 1
            events = conn.start_next_cycle()
        assert served == 2
        return served

    return run


WORKLOADS = {"parse": parse, "cycle": cycle}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=100_000, help="iterations per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best is reported")
    parser.add_argument("--adapters", default="httptools,h11")
    parser.add_argument("--workloads", default="parse,cycle")
    args = parser.parse_args()
    for adapter in args.adapters.split(","):
        factory = connection_factory(adapter, Limits())
        for name in args.workloads.split(","):
            run = WORKLOADS[name](factory)
            run()  # check it works before timing it
            best = min(timeit.repeat(run, number=args.number, repeat=args.repeat))
            print(f"{adapter:9} {name:5} {best / args.number * 1e6:7.2f} us")


if __name__ == "__main__":
    main()
