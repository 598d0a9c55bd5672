"""Terminal output: colour only on a terminal and without NO_COLOR; tables.

click (already the CLI's library) does the work: ``click.echo`` drops ANSI
codes when the output is not a terminal, and ``style`` here honours the
NO_COLOR convention (https://no-color.org).  A richer library was not worth
its import time: every ``vcluster-ns run`` pays for what the CLI imports.
"""

from __future__ import annotations

import os

import click

STATE_COLORS = {
    "running": "green", "ok": "green", "master": "green",
    "starting": "cyan", "backoff": "yellow", "stopped": "yellow", "warn": "yellow",
    "not-master": "bright_black", "failed": "red", "fail": "red", "down": "red",
    "up": "green", "incomplete": "yellow", "booting": "cyan", "initialising": "cyan",
    "joining": "cyan", "stopping": "yellow",
}


def style(text: str, key: str | None = None, **kwargs) -> str:
    if os.environ.get("NO_COLOR"):
        return text
    color = STATE_COLORS.get(key if key is not None else text)
    if color is None and not kwargs:
        return text
    return click.style(text, fg=color, **kwargs)


def table(rows: list[list[str]], headers: list[str], colour_column: int | None = None,
          indent: str = "") -> list[str]:
    """Aligned columns; ``colour_column`` is coloured by its value (after padding)."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]
    lines = []
    for index, row in enumerate([headers] + rows):
        cells = []
        for col, (cell, width) in enumerate(zip(row, widths)):
            text = str(cell).ljust(width)
            if index and col == colour_column:
                text = style(text, key=str(cell))
            elif not index:
                text = style(text, bold=True) if not os.environ.get("NO_COLOR") else text
            cells.append(text)
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines
