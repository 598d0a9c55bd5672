"""Namespace tier: real user namespaces, no Ganeti (clusters come up with --no-init)."""

from __future__ import annotations

import pytest

from helpers import Cli, require, unique_name, userns_available


@pytest.fixture(scope="session", autouse=True)
def _userns():
    require(userns_available(), "unprivileged user namespaces are not available here")


@pytest.fixture
def cli(tmp_path):
    """A cluster (not started) with a name of its own: titles then tell its
    processes from any other cluster's on the machine."""
    cli = Cli(tmp_path / "clusters", unique_name("ns"))
    yield cli
    if cli.pid1():
        cli("down", check=False)
