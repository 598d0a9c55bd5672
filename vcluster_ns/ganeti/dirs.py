"""Ganeti's directories on many nodes, with one start of Ganeti's Python.

A node needs the directories Ganeti's ``ensure-dirs`` makes (with their
modes and owners) before its node daemon can be set up.  Run once a node,
``ensure-dirs`` is one start of Ganeti's Python each: 0.22 CPU s just to
import ``ganeti.tools.ensure_dirs``, 31 s of a 300-node boot on two
cores.  One process cannot simply serve several nodes, because Ganeti reads
``GANETI_ROOTDIR`` when its modules are imported (``vcluster.py``).

BATCH_SCRIPT therefore asks ensure-dirs' own ``GetPaths()`` once, in the
first node's environment, and hands each path, moved from that node's root
to each other node's, to ensure-dirs' own ``ProcessPath``: the same list and
the same actions as ``ensure-dirs`` run on each node (``tests`` compare the
two trees).  Nodes are batched only with nodes whose version links select
the same Ganeti (``gnt-cluster upgrade`` moves them node by node), and a
path that is not below the first node's root stops the batch: those nodes
then get ``ensure-dirs`` of their own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from .install import ETC_GANETI, linked_version
from .seed import GANETI_PYTHON_DIR

# Prints a JSON line {"done": root} per node root, or {"unbatched": reason}
# and exits 3 when a path of GetPaths() is not below the process's own root.
BATCH_SCRIPT = """
import json, os, sys
sys.path.insert(0, %(pythondir)r)
from ganeti.tools import ensure_dirs
own = os.environ["GANETI_ROOTDIR"].rstrip("/")
paths = ensure_dirs.GetPaths()
for path in paths:
    if path[0] != own and not path[0].startswith(own + "/"):
        print(json.dumps({"unbatched": f"{path[0]} is not below {own}"}), flush=True)
        sys.exit(3)
for root in json.loads(sys.argv[1]):
    root = root.rstrip("/")
    for path in paths:
        ensure_dirs.ProcessPath((root + path[0][len(own):],) + tuple(path[1:]))
    print(json.dumps({"done": root}), flush=True)
"""


def batch_argv(node_roots: list[Path]) -> list[str]:
    """The command, run as the first of ``node_roots`` (its environment and
    namespaces), that makes Ganeti's directories of them all."""
    return ["python3", "-c", BATCH_SCRIPT % {"pythondir": GANETI_PYTHON_DIR},
            json.dumps([str(root) for root in node_roots])]


def batches(node_roots: Mapping[str, Path]) -> list[list[str]]:
    """The nodes, in their order, grouped by the Ganeti their version links
    select (a node without links goes with the others that have none)."""
    groups: dict[str | None, list[str]] = {}
    for node, root in node_roots.items():
        groups.setdefault(linked_version(root / ETC_GANETI.lstrip("/")), []).append(node)
    return list(groups.values())


def done_roots(output: str) -> set[str]:
    """The node roots a batch's output reports done."""
    done = set()
    for line in output.splitlines():
        try:
            said = json.loads(line)
        except ValueError:
            continue
        if isinstance(said, dict) and "done" in said:
            done.add(said["done"])
    return done
