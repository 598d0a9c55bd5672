"""Ganeti's directories made for many nodes by one process are those
``ensure-dirs`` makes on each.

A 3-node cluster's boot makes its nodes' directories in one batch
(ganeti/dirs.py); a 1-node cluster's boot runs Ganeti's ``ensure-dirs`` in
its node.  Every node's tree of Ganeti's directories (path, kind, mode,
owner) must be the one ``ensure-dirs`` made.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from helpers import Cli

pytestmark = pytest.mark.ganeti

# What ensure-dirs makes below a node's root.
GANETI_DIRS = ("var/lib/ganeti", "var/log/ganeti", "var/run/ganeti")


def tree(node_root: Path) -> dict[str, tuple]:
    """Each path below Ganeti's directories of a node: kind, mode, owner."""
    found = {}
    for top in GANETI_DIRS:
        for dirpath, dirnames, filenames in os.walk(node_root / top):
            for name in [*dirnames, *filenames, ""]:
                path = Path(dirpath, name)
                info = path.lstat()
                kind = "dir" if stat.S_ISDIR(info.st_mode) else "file"
                found[str(path.relative_to(node_root))] = (
                    kind, oct(stat.S_IMODE(info.st_mode)), info.st_uid, info.st_gid)
    return found


@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    root = tmp_path_factory.mktemp("dirs") / "clusters"
    batched, alone = Cli(root, "batched"), Cli(root, "alone")
    batched("up", "--no-init", "--nodes", "3")
    alone("up", "--no-init", "--nodes", "1")
    yield batched, alone
    for cli in (batched, alone):
        cli("down", check=False)


def test_one_process_made_every_nodes_directories(clusters):
    batched, _ = clusters
    log = batched.dir / "logs/node1/commands.log"  # the first node's: the batch ran there
    said = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    done = {Path(entry["done"]).name for entry in said if "done" in entry}
    assert done == {"node1", "node2", "node3"}, said


def test_the_batch_made_what_ensure_dirs_makes(clusters):
    batched, alone = clusters
    made_alone = tree(alone.dir / "node1")
    assert "var/lib/ganeti/queue/archive" in made_alone, sorted(made_alone)
    for node in ("node1", "node2", "node3"):
        made = tree(batched.dir / node)
        assert made == made_alone, (
            node, {k: (made.get(k), made_alone.get(k))
                   for k in set(made) | set(made_alone) if made.get(k) != made_alone.get(k)})
