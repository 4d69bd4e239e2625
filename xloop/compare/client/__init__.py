"""The built-in load client of ``xloop compare``: ``python -m xloop.compare.client``.

::

    python -m xloop.compare.client --host H --port P --workload NAME [--path TARGET]
        --connections N --duration S --warmup S [--pipeline K] [--server-pid PID ...]
        [--loop auto] [--timeout SECONDS]

It opens N keep-alive connections and keeps each one busy: it sends the workload's
request (its bytes built once; ``--pipeline K`` sends K of them in one write), waits for
the response(s), sends again. After ``--warmup`` seconds it measures ``--duration``
seconds, then stops sending and lets the responses still due arrive (bounded by
``--timeout``) so that ``responses_total`` is every response the server sent. It prints
one JSON object on stdout (exit 0), or one line ``xloop compare client: error: ...`` on
stderr (exit 1) when it could not measure at all.

Responses are framed without an HTTP parser (:class:`.connection.ClientConnection`): the
head ends at ``\\r\\n\\r\\n``, the status is bytes 9..12, the body is skipped by
``Content-Length`` or by walking the chunk sizes of ``Transfer-Encoding: chunked``. What a
head means is cached by its bytes, since a server sends the same head again and again (only
``date`` changes, once a second). ``echo`` (kind ``tcp``) sends the message and waits for as
many bytes.

The hot path is one ``data_received`` per read with the completion of a response inlined
(histogram bucket, status count, next write): the client must stay far from being the
bottleneck of what it measures.

Modules: :mod:`.framing` (what a response head says), :mod:`.connection` (the connections,
the hot path), :mod:`.run` (the shared counters, :func:`~.run.measure`), :mod:`.cli` (the
command line; ``__main__`` runs it).
"""
