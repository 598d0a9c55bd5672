"""Terminal output: NO_COLOR, colour only when asked, aligned tables."""

from __future__ import annotations

import click
from click.testing import CliRunner

from vcluster_ns import ui


def test_no_color_disables_styling(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    assert ui.style("running") == "running"
    monkeypatch.delenv("NO_COLOR")
    assert ui.style("running") != "running" and "running" in ui.style("running")


def test_table_aligns_columns(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    lines = ui.table([["node1", "running"], ["node10", "failed"]], ["NODE", "STATE"],
                     colour_column=1)
    assert lines == ["NODE    STATE", "node1   running", "node10  failed"]


def test_colour_is_dropped_when_output_is_not_a_terminal(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)

    @click.command()
    def show():
        click.echo(ui.style("failed"))

    result = CliRunner().invoke(show, color=False)
    assert result.output == "failed\n"
