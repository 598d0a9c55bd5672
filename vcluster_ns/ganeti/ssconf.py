"""What Ganeti's ssconf files say: has a node joined, who is master, the roles.

Ganeti copies a few facts of its configuration to every node as small
files, ``var/lib/ganeti/ssconf_<key>`` (one value, or one per line).  They
are read here, from the host, without asking any daemon, so that they work
while the cluster is busy or half down:

* a node has *joined* (is initialised) once it has ``server.pem``:
  daemon-util's own test;
* the *current master* is the one most nodes name in ``ssconf_master_node``:
  after a failover every online node names the new one, and a node that
  missed it (offline, partitioned) is outvoted, as in Ganeti's own vote;
* a node's *role* comes from the master's lists (candidates, offline,
  drained, all nodes).

This is the only place that works out the master; everyone else asks here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

DATA_DIR = "var/lib/ganeti"  # below a node's root (GANETI_ROOTDIR)
MASTER, CANDIDATE, REGULAR, OFFLINE, DRAINED, NOT_JOINED = (
    "master", "candidate", "regular", "offline", "drained", "not-joined")


def data_dir(node_root: Path) -> Path:
    return node_root / DATA_DIR


def is_initialised(node_root: Path) -> bool:
    """Has this node joined a cluster (daemon-util's own test)?"""
    return (data_dir(node_root) / "server.pem").is_file()


def has_configuration(node_root: Path) -> bool:
    """Has ``gnt-cluster init`` written the configuration on this node?
    (Ganeti's own "already initialised" test, ConfigWriter.IsCluster.)"""
    return (data_dir(node_root) / "config.data").is_file()


def values(node_root: Path, key: str) -> list[str]:
    """The words of ``ssconf_<key>`` on this node (empty if it has none)."""
    try:
        return (data_dir(node_root) / f"ssconf_{key}").read_text().split()
    except OSError:
        return []


def master_of(node_root: Path) -> str | None:
    """The master named in the node's ssconf, if it has one."""
    named = values(node_root, "master_node")
    return named[0] if named else None


def current_master(node_roots: Mapping[str, Path], default: str | None = None) -> str | None:
    """The master most nodes name (``default`` while no node knows of one:
    the first node, which init makes master)."""
    votes: dict[str, int] = {}
    for root in node_roots.values():
        master = master_of(root)
        if master:
            votes[master] = votes.get(master, 0) + 1
    return max(votes, key=votes.get) if votes else default


def roles(node_roots: Mapping[str, Path], master: str | None,
          first: str) -> dict[str, str]:
    """Each node's role, read from the master's lists (``first``'s before
    there is a master)."""
    source = node_roots[master if master in node_roots else first]

    def listed(key: str) -> set[str]:
        return set(values(source, key))

    candidates, offline = listed("master_candidates"), listed("offline_nodes")
    drained, members = listed("drained_nodes"), listed("node_list")
    found = {}
    for node in node_roots:
        if node == master:
            found[node] = MASTER
        elif node in offline:
            found[node] = OFFLINE
        elif node in drained:
            found[node] = DRAINED
        elif node in candidates:
            found[node] = CANDIDATE
        elif node in members:
            found[node] = REGULAR
        else:
            found[node] = NOT_JOINED
    return found


def files(node_root: Path) -> dict[str, bytes]:
    """The node's ssconf files by name.  A push in progress has temporary
    files (``ssconf_<key><random>.new``), renamed into place at any moment:
    they are not the node's yet."""
    found = {}
    for path in data_dir(node_root).glob("ssconf_*"):
        if path.suffix == ".new":
            continue
        try:
            found[path.name] = path.read_bytes()
        except OSError:  # renamed over meanwhile: read again next time
            continue
    return found


def behind(node_roots: Mapping[str, Path], master: str) -> list[str]:
    """The joined nodes whose ssconf files differ from the master's.
    Offline nodes are left out: Ganeti pushes ssconf to online nodes only."""
    if master not in node_roots:
        return []
    wanted = files(node_roots[master])
    offline = set(values(node_roots[master], "offline_nodes"))
    members = set(values(node_roots[master], "node_list"))
    return [node for node, root in node_roots.items()
            if node != master and node in members and node not in offline
            and files(root) != wanted]
