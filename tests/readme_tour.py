"""README.md's "A short tour": its command lines, as a reader copies them.

The unit tier checks the tour's order without running it (test_readme_tour.py
in tests/unit); the ganeti tier runs it line by line (tests/ganeti).
"""

from __future__ import annotations

import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def tour_lines(text: str | None = None) -> list[str]:
    """The tour's first indented block, continuation lines joined, comments kept."""
    text = README.read_text() if text is None else text
    section = text.split("## A short tour", 1)[1].split("\n## ", 1)[0]
    lines: list[str] = []
    in_block = False
    for line in section.splitlines():
        if line.startswith("    "):
            in_block = True
            if lines and lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1] + " " + line.strip()
            else:
                lines.append(line[4:])
        elif in_block and line.strip():
            break  # the prose after the block
    return lines


def words(line: str) -> list[str]:
    """A line's words, its comment left out."""
    return shlex.split(line, comments=True)


def vcluster_ns_args(line: str) -> tuple[str, list[str]] | None:
    """(cluster, arguments after the global options) of a vcluster-ns line."""
    argv = words(line)
    if not argv or not argv[0].endswith("vcluster-ns"):
        return None
    cluster, i = "default", 1
    while i < len(argv) and argv[i] in ("--cluster", "-c", "--root"):
        if argv[i] != "--root":
            cluster = argv[i + 1]
        i += 2
    return cluster, argv[i:]


def is_interactive_shell(line: str) -> bool:
    found = vcluster_ns_args(line)
    return bool(found) and found[1][:1] == ["shell"] and "-c" not in found[1]
