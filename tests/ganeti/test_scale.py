"""Correctness at scale (speed belongs to bench/, not to tests): 20 nodes."""

from __future__ import annotations

import pytest

from helpers import Cli, verify_errors

NODES = 20


@pytest.fixture(scope="module")
def cluster20(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("scale") / "clusters")
    cli("up", "--nodes", str(NODES), "--network", "198.18.0.0/16", timeout=1500)
    yield cli
    cli("down", check=False)


def test_twenty_nodes_listed_and_verified(cluster20: Cli):
    names = cluster20("run", "node1", "gnt-node", "list", "--no-headers", "-o", "name").stdout
    assert names.split() == [f"node{i}" for i in range(1, NODES + 1)]
    # Live fields answer for every node: each noded is reachable.
    free = cluster20("run", "node1", "gnt-node", "list", "--no-headers", "-o", "mfree").stdout
    assert "?" not in free.split() and len(free.split()) == NODES
    assert verify_errors(cluster20) == []
