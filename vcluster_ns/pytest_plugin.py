"""pytest plugin: real virtual Ganeti clusters as fixtures.

Installed with vcluster-ns (entry point ``pytest11``), so a Ganeti
developer's test only asks for a fixture::

    def test_verify(vcluster):
        result = vcluster.run("node1", "gnt-cluster", "verify")
        assert result.returncode == 0, result.stdout

Fixtures:

* ``vcluster``: a running cluster (``VirtualCluster``).  Shared by the whole
  session by default; ``--vcluster-isolation=test`` (or the ini option
  ``vcluster_isolation = test``) gives every test its own.
* ``vcluster_factory``: ``vcluster_factory(nodes=5, network=..., ...)``
  brings up a cluster with other options; every cluster it made is
  destroyed when the test ends.
* ``vcluster_session``: the session's shared cluster.

Size: ``--vcluster-nodes N`` or ini ``vcluster_nodes`` (default 3).
Ganeti: ``--vcluster-ganeti PATH`` or ini ``vcluster_ganeti``: every cluster
runs the Ganeti installed in PATH (a ``make install DESTDIR=PATH`` tree)
instead of the system's; ``vcluster_factory(ganeti=...)`` overrides it.
Teardown destroys each cluster (processes, namespaces, directory): nothing
is left on the host.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from .cluster import VirtualCluster
from .spec import ClusterSpec

_counter = itertools.count(1)


def pytest_addoption(parser):
    group = parser.getgroup("vcluster-ns", "virtual Ganeti clusters (vcluster-ns)")
    group.addoption("--vcluster-nodes", type=int, default=None,
                    help="nodes of the 'vcluster' fixture's cluster (default 3)")
    group.addoption("--vcluster-isolation", choices=("session", "test"), default=None,
                    help="one cluster shared by the session, or one per test")
    group.addoption("--vcluster-ganeti", default=None, metavar="PATH",
                    help="run this Ganeti installation tree (DESTDIR of 'make install') "
                         "instead of the system's")
    parser.addini("vcluster_nodes", "nodes of the 'vcluster' fixture's cluster", default="3")
    parser.addini("vcluster_ganeti", "Ganeti installation tree the clusters run "
                  "(empty: the system's)", default="")
    parser.addini("vcluster_isolation", "'session' (shared cluster) or 'test'",
                  default="session")


def _option(config, name: str) -> str:
    value = config.getoption(f"--vcluster-{name}")
    return str(value) if value is not None else config.getini(f"vcluster_{name}")


def _ganeti(config) -> str | None:
    return _option(config, "ganeti") or None


class ClusterFactory:
    """Brings clusters up under one temporary root; destroys them all at the end.

    The root is a short directory of its own (not pytest's deep tmp_path):
    a cluster's control socket path must fit in 107 bytes.
    """

    def __init__(self, ganeti: str | None = None):
        self.root = Path(tempfile.mkdtemp(prefix="vcluster-"))
        self.made: list[VirtualCluster] = []
        self.ganeti = ganeti

    def __call__(self, nodes: int = 3, name: str | None = None, init: bool = True,
                 **spec_options) -> VirtualCluster:
        name = name or f"t{next(_counter)}"
        if spec_options.get("ganeti", self.ganeti):
            spec_options["ganeti"] = os.path.abspath(spec_options.get("ganeti", self.ganeti))
        cluster = VirtualCluster(name, self.root)
        self.made.append(cluster)
        cluster.up(ClusterSpec(name=name, nodes=nodes, **spec_options), init=init)
        return cluster

    def destroy_all(self) -> None:
        try:
            for cluster in reversed(self.made):
                if cluster.exists():
                    cluster.destroy()
        finally:
            self.made.clear()
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def vcluster_session(request):
    """The session's shared running cluster (--vcluster-nodes nodes)."""
    factory = ClusterFactory(_ganeti(request.config))
    try:
        yield factory(nodes=int(_option(request.config, "nodes")))
    finally:
        factory.destroy_all()


@pytest.fixture
def vcluster_factory(request):
    """Call with ClusterSpec options (nodes=5, ...) for more clusters; destroyed after the test."""
    factory = ClusterFactory(_ganeti(request.config))
    try:
        yield factory
    finally:
        factory.destroy_all()


@pytest.fixture
def vcluster(request):
    """A running virtual Ganeti cluster (VirtualCluster): shared, or per test."""
    if _option(request.config, "isolation") == "test":
        factory = request.getfixturevalue("vcluster_factory")
        return factory(nodes=int(_option(request.config, "nodes")))
    return request.getfixturevalue("vcluster_session")
