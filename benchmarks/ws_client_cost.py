"""What one WebSocket message costs the load client of ``xloop compare``, without sockets.

Per message the client builds a masked frame and reads the server's echo. This times that
with the client's own framer (``xloop.compare.client.websocket``) and with wsproto's
client-side sans-IO ``WSConnection`` doing the same work (``send`` of the message,
``receive_data`` of the echo, iterating its events), on the messages the ``websocket``
workload sends::

    .venv/bin/python benchmarks/ws_client_cost.py [--messages 200000]
"""

from __future__ import annotations

import argparse
import time

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, Request, TextMessage

from xloop.compare.client.websocket import MASKS, Outgoing, server_frame
from xloop.compare.workloads import WS_MESSAGES


def framer(count: int) -> float:
    messages = [
        Outgoing(0x1, m.encode()) if isinstance(m, str) else Outgoing(0x2, m) for m in WS_MESSAGES
    ]
    echoes = [server_frame(message.opcode, message.payload) for message in messages]
    start = time.perf_counter()
    for i in range(count):
        message = messages[i & 1]
        message.frame(MASKS.next())
        if echoes[i & 1] != message.echo:  # what the client's fast path compares
            raise AssertionError("echo")
    return (time.perf_counter() - start) / count


def wsproto_client(count: int) -> float:
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="localhost", target="/ws")))
    next(server.events())
    client.receive_data(server.send(AcceptConnection()))
    next(client.events())
    messages = [
        TextMessage(data=m) if isinstance(m, str) else BytesMessage(data=m) for m in WS_MESSAGES
    ]
    echoes = [server.send(message) for message in messages]
    start = time.perf_counter()
    for i in range(count):
        client.send(messages[i & 1])
        client.receive_data(echoes[i & 1])
        for _event in client.events():
            pass
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    own = framer(args.messages)
    theirs = wsproto_client(args.messages)
    print(f"own framer: {own * 1e6:.2f} us per message")
    print(f"wsproto:    {theirs * 1e6:.2f} us per message ({theirs / own:.1f}x)")


if __name__ == "__main__":
    main()
