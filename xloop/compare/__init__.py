"""``xloop compare`` and ``xloop report``: one server on every loop, measured side by side.

- :mod:`.settings`: their options, declared once (what to compare, the load, the outputs)
- :mod:`.workloads`: what is asked of each server (plaintext, json, upload, stream, echo)
- :mod:`.plan`: every name resolved into the rows to measure
- :mod:`.servers`: the server processes (status pipe, priming, stopping, their log)
- :mod:`.others`: ``--servers``: uvicorn, granian, hypercorn, their flags and what they
  cannot run
- :mod:`.rounds`: one load on one server, by the built-in client or by wrk/oha
- :mod:`.runner`: alternating rounds, the count check, the ratios: :func:`~.runner.compare`
- :mod:`.client`: the built-in load client (its own processes, on the fastest loop here)
- :mod:`.external`: ``--client wrk`` / ``--client oha``
- :mod:`.echo`: the raw TCP echo server of the ``echo`` workload
- :mod:`.histogram`, :mod:`.machine`: latency histograms; the machine, CPU pinning
- :mod:`.model`: the rows and the JSON schema ``xloop.compare/1``
- :mod:`.columns`, :mod:`.table`, :mod:`.render`, :mod:`.plot`: the columns, the terminal
  table, the files, the chart
- :mod:`.command`, :mod:`.report`: the bodies of ``xloop compare`` and ``xloop report``
"""
