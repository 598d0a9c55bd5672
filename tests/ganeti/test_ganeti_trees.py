"""Clusters that run a Ganeti installation tree (``up --ganeti PATH``).

CI cannot build Ganeti, so the trees are copies of the installed packages
(tests/ganeti_trees.py): tree A is the system's 3.0 with a marker that its
noded prints at start; tree B is the same release under the version
directory ``3.0.99`` (its Python says 3.0.99; the Haskell daemons are the
same binaries and still say 3.0.2, which verify reports as a version
mismatch warning: that only a real second release can avoid).

Tests in this module run in order and share the clusters:

* ``both``: 3 nodes on tree A with tree B installed beside it;
* ``other``: 2 nodes on tree B alone, up at the same time (side by side).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ganeti_trees import MARKER_PREFIX, make_tree
from helpers import KNOWN_KERNEL_ERRORS, Cli, expect_root, left_over, verify_errors
from hostsnap import HostSnapshot

LISTING = ["gnt-instance", "list", "--no-headers", "-o", "name,pnode,status"]


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("trees")
    return {"A": make_tree(base / "a", marker="tree-A"),
            "B": make_tree(base / "b", marker="tree-B", dir_version="3.0.99",
                           release="3.0.99")}


@pytest.fixture(scope="module")
def clusters(tmp_path_factory, trees):
    before = HostSnapshot.take()
    root = tmp_path_factory.mktemp("gt") / "c"
    both, other = Cli(root, "both"), Cli(root, "other")
    both("up", "--nodes", "3", "--ganeti", str(trees["A"]), "--ganeti-extra", str(trees["B"]))
    other("up", "--nodes", "2", "--ganeti", str(trees["B"]))
    yield both, other, before
    for cli in (both, other):
        if cli.pid1():
            cli("down", check=False)


def markers(cli: Cli, node: str) -> list[str]:
    log = cli.dir / "logs" / node / "ganeti-noded.log"
    return [line[len(MARKER_PREFIX):] for line in log.read_text().splitlines()
            if line.startswith(MARKER_PREFIX)]


def ganeti_status(cli: Cli) -> dict:
    return json.loads(cli("status", "--json").stdout)["ganeti"]


def test_each_tree_made_its_nodes_directories_in_one_batch(clusters):
    """The boot's one-process directories (ganeti/dirs.py) run the tree's
    own ensure-dirs code: node1's log reports every node done, so none fell
    back to an ensure-dirs of its own."""
    both, other, _ = clusters
    for cli, nodes in ((both, {"node1", "node2", "node3"}), (other, {"node1", "node2"})):
        log = cli.dir / "logs" / "node1" / "commands.log"
        said = [json.loads(line) for line in log.read_text().splitlines()
                if line.startswith("{")]
        assert {Path(entry["done"]).name for entry in said if "done" in entry} == nodes, said


def test_each_cluster_runs_its_tree_side_by_side(clusters, trees):
    expect_root()
    both, other, _ = clusters
    for node in ("node1", "node2", "node3"):
        assert markers(both, node) == ["tree-A"], node
    for node in ("node1", "node2"):
        assert markers(other, node) == ["tree-B"], node
    # The host's own noded is untouched and prints no marker.
    host_noded = open("/usr/share/ganeti/3.0/ganeti-noded").read()
    assert MARKER_PREFIX not in host_noded
    assert ganeti_status(both) == {
        "path": str(trees["A"]), "version": "3.0.2",
        "extra": [{"path": str(trees["B"]), "version": "3.0.99"}],
        "node_versions": {"node1": "3.0", "node2": "3.0", "node3": "3.0"},
        "running": [{"path": str(trees["A"]), "version": "3.0.2"}]}
    assert ganeti_status(other)["version"] == "3.0.99"
    assert ganeti_status(other)["node_versions"] == {"node1": "3.0.99", "node2": "3.0.99"}
    # Ganeti's Python on the nodes is the tree's version.
    seen = other("run", "node2", "python3", "-c",
                 "import sys; sys.path.insert(0, '/usr/share/ganeti/default'); "
                 "import ganeti.constants as c; print(c.RELEASE_VERSION, c.__file__)")
    assert seen.stdout.split() == ["3.0.99", "/usr/share/ganeti/default/ganeti/constants.py"]
    for cli in (both, other):
        assert cli("run", "node1", "gnt-node", "list", "--no-headers", "-o", "name"
                   ).stdout.split()[0] == "node1"
        assert verify_errors(cli) == []


def test_status_text_names_the_tree(clusters, trees):
    both, _, _ = clusters
    first = both("status").stdout.splitlines()[1]
    assert first == f"ganeti 3.0.2 ({trees['A']}), also 3.0.99 ({trees['B']})"


def upgrade(cli: Cli, version: str) -> None:
    """``gnt-cluster upgrade --to VERSION``, Ganeti's own command, unchanged.

    It ends with a ``gnt-cluster verify`` whose status is its own: on a
    kernel without /proc/sysrq-trigger that reports a node setup error on
    every node.  Any other error fails the test."""
    done = cli("run", "node1", "gnt-cluster", "upgrade", "--to", version, check=False,
               timeout=900)
    output = done.stdout + done.stderr
    assert "Starting daemons everywhere." in output, output
    errors = [line for line in output.splitlines() if "ERROR" in line
              and not any(known in line for known in KNOWN_KERNEL_ERRORS)]
    assert errors == [], output
    assert done.returncode == 0 or any(k in output for k in KNOWN_KERNEL_ERRORS), output


def test_upgrade_to_the_extra_tree_and_back(clusters, trees):
    both, _, _ = clusters
    both("run", "node1", "gnt-instance", "add", "-t", "diskless", "-o", "noop",
         "--no-name-check", "--no-ip-check", "-n", "node2", "inst1")
    before = both("run", "node1", *LISTING).stdout
    upgrade(both, "3.0.99")
    assert ganeti_status(both)["node_versions"] == {
        "node1": "3.0.99", "node2": "3.0.99", "node3": "3.0.99"}
    # The header shows the version the nodes run now, not the base tree's.
    assert both("status").stdout.splitlines()[1] == \
        f"ganeti 3.0.99 ({trees['B']}), also 3.0.2 ({trees['A']})"
    # Every node's noded was restarted from tree B.
    for node in ("node1", "node2", "node3"):
        assert markers(both, node)[-1] == "tree-B", node
    assert both("run", "node1", *LISTING).stdout == before
    assert verify_errors(both) == []
    version = both("run", "node2", "cat",
                   "/usr/share/ganeti/default/ganeti/_constants.py").stdout
    assert re.search(r'^RELEASE_VERSION = "3.0.99"$', version, re.M)

    upgrade(both, "3.0")  # the roll-back
    assert ganeti_status(both)["node_versions"] == {
        "node1": "3.0", "node2": "3.0", "node3": "3.0"}
    assert both("status").stdout.splitlines()[1] == \
        f"ganeti 3.0.2 ({trees['A']}), also 3.0.99 ({trees['B']})"
    for node in ("node1", "node2", "node3"):
        assert markers(both, node)[-1] == "tree-A", node
    assert both("run", "node1", *LISTING).stdout == before
    assert verify_errors(both) == []


def test_host_untouched_after_down(clusters):
    both, other, before = clusters
    for cli in (both, other):
        cli("down")
    assert left_over(before, both, other) == []


def test_pytest_plugin_runs_the_tree(pytester, trees):
    """A Ganeti developer's own test suite, against their own build."""
    pytester.makepyfile(test_mine='''
def test_my_build(vcluster):
    info = vcluster.status()["ganeti"]
    assert info["version"] == "3.0.99", info
    assert vcluster.run("node1", "gnt-node", "list").returncode == 0
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--vcluster-nodes", "1",
                                           "--vcluster-ganeti", str(trees["B"]), timeout=600)
    result.assert_outcomes(passed=1)
