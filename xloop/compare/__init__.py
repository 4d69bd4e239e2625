"""``xloop compare`` and ``xloop report``: one server on every loop, measured side by side.

- :mod:`.workloads`: what is asked of each server (plaintext, json, upload, stream, echo)
- :mod:`.client`: the built-in load client (its own process, on the fastest loop here)
- :mod:`.external`: ``--client wrk`` / ``--client oha``
- :mod:`.echo`: the raw TCP echo server of the ``echo`` workload
- :mod:`.runner`: server processes, pinning, alternating rounds, the rows
- :mod:`.model`: the rows and the JSON schema ``xloop.compare/1``
- :mod:`.render`, :mod:`.plot`, :mod:`.report`: tables, files, charts, merging
"""
