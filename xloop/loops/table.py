"""Every loop on every OS as one Markdown table, rendered from the platform files.

``python -m xloop.loops.table`` prints the table that ``platforms/linux.toml``,
``macos.toml`` and ``windows.toml`` declare (availability, and the result each capability
probe must give, which ``xloop which-loop --check`` holds against live probes on each OS);
``--write README.md`` replaces the table between its markers in that file (a test checks
that the README holds what this renders); ``--probe`` prints this machine's live probe
results as the ``[<loop>.capabilities]`` tables of its platform file (``eager_tasks``
left out: its result depends on the Python version).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xloop.loops import LIBRARY_LOOPS, LOOP_NAMES
from xloop.loops.check import PlatformFile, load

__all__ = ["BEGIN", "END", "FILES", "main", "probe_lines", "render", "replace_table"]

BEGIN = "<!-- loop-table: begin (python -m xloop.loops.table --write README.md) -->"
END = "<!-- loop-table: end -->"
#: The platform files, in the order of the table's columns.
FILES: tuple[str, ...] = ("linux.toml", "macos.toml", "windows.toml")

_SHORT = {
    "works": "yes",
    "fallback": "fallback",
    "limited": "limited",
    "unsupported": "n/a",
    "not implemented": "no",
    "failed": "broken",
    "hung": "hangs",
    "crashed": "crashes",
}


def _cell(platform: PlatformFile, loop: str) -> str:
    want = platform.loops[loop]
    if not want.available:
        return "-"
    extra = LIBRARY_LOOPS.get(loop)
    head = f"`xloop[{extra.extra}]`" if want.optional and extra is not None else "built in"
    if extra is not None and platform.os in extra.wheels and extra.wheels[platform.os]:
        head += f" ({extra.wheels[platform.os]}+)"
    if extra is not None and extra.python > (3, 10):
        head += f" (Python {'.'.join(map(str, extra.python))}+)"
    lacks = [
        f"{probe}: {'/'.join(_SHORT[result] for result in accepted)}"
        for probe, accepted in want.capabilities.items()
        if accepted != ("works",)
    ]
    if not want.capabilities:
        return head + "; capabilities not declared"
    return head + "; " + (", ".join(lacks) if lacks else "every probe works")


def render(platforms: list[PlatformFile]) -> str:
    """The Markdown table: one row per loop name (auto aside), one column per OS."""
    lines = [
        "| loop | " + " | ".join(p.os for p in platforms) + " |",
        "| --- |" + " --- |" * len(platforms),
    ]
    for loop in LOOP_NAMES[1:]:
        lines.append(f"| `{loop}` | " + " | ".join(_cell(p, loop) for p in platforms) + " |")
    return "\n".join(lines) + "\n"


def replace_table(text: str, table: str) -> str:
    """``text`` with what stands between :data:`BEGIN` and :data:`END` replaced by ``table``."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[:start] + "\n" + table + text[end:]


def probe_lines(names: list[str]) -> str:
    """This machine's live probe results for ``names``, as platform-file lines."""
    from xloop.loops import availability
    from xloop.loops.capabilities import probe

    out = []
    for name in names:
        if not availability()[name][0]:
            out.append(f"# [{name}] not available here: {availability()[name][1]}")
            continue
        found = {c.name: c.result for c in probe(name) if c.name != "eager_tasks"}
        out.append(f"[{name}.capabilities]")
        out.extend(f'{key} = "{value}"' for key, value in found.items())
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xloop.loops.table")
    parser.add_argument("--platforms", default="platforms", help="the platform files' folder")
    parser.add_argument("--write", metavar="FILE", help="replace the table in FILE")
    parser.add_argument("--probe", action="store_true", help="probe this machine's loops")
    args = parser.parse_args(argv)
    if args.probe:
        print(probe_lines(list(LOOP_NAMES[1:])))
        return 0
    table = render([load(Path(args.platforms) / name) for name in FILES])
    if args.write is None:
        sys.stdout.write(table)
        return 0
    path = Path(args.write)
    path.write_text(replace_table(path.read_text(encoding="utf-8"), table), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
