"""Shared fixtures: tiers, the CLI as a subprocess, host snapshots."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


pytest_plugins = ["pytester"]

TIER_DIRS = {"namespace": "namespace", "ganeti": "ganeti"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIER_DIRS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))




@pytest.fixture(autouse=True)
def _ctrl_c_as_at_a_terminal():
    """Every test runs with Python's own SIGINT handler, and the commands it
    starts with SIGINT at its default, as from a terminal.  A worker left
    with SIGINT ignored (a background job of a script starts so; what left
    the CI workers so was not found) makes _thread.interrupt_main() do
    nothing and passes the ignored SIGINT to every 'up' a test interrupts:
    Ctrl-C tests failed with "DID NOT RAISE KeyboardInterrupt" and with an
    interrupted 'up' that went on to the end."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture(scope="module", autouse=True)
def _no_cluster_outlives_its_module():
    """A fixture whose ``up`` failed never reaches its own teardown: bring
    down what the module's clusters still run, so that one failure does not
    leave daemons loading the machine (and the host snapshots of later
    modules) for the rest of the run."""
    from helpers import Cli
    first = len(Cli.made)
    yield
    for cli in Cli.made[first:]:
        if cli.local and cli.cluster_processes():
            cli("down", check=False, timeout=300)
    del Cli.made[first:]
