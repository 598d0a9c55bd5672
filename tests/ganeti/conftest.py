"""Ganeti tier: the real daemons from the Debian packages, as an unprivileged user."""

from __future__ import annotations

import pytest

from helpers import Cli, require, userns_available
from hostsnap import HostSnapshot
from vcluster_ns import ganeti


@pytest.fixture(scope="session", autouse=True)
def _requirements():
    require(not ganeti.missing_programs(), "Ganeti is not installed "
            "(apt-get install ganeti ganeti-os-noop)")
    require(userns_available(), "unprivileged user namespaces are not available here")


@pytest.fixture(scope="module")
def cluster3(tmp_path_factory):
    """One 3-node cluster shared by a module's tests, in test order."""
    before = HostSnapshot.take()
    cli = Cli(tmp_path_factory.mktemp("g3") / "clusters")
    cli("up", "--nodes", "3")
    cli.host_before = before
    yield cli
    if cli.pid1():
        cli("down", check=False)
