"""A virtual node as processes inside its cluster see it.

Each node's namespaces (mount; in isolated mode also network and UTS) are
held by an *anchor* process (see boot.py), whose pid inside the cluster is
recorded in ``ns/<node>.pid``.  A process inside the cluster becomes the
node by entering the anchor's namespaces with ``nsenter``; the node's own
socket tables are the anchor's ``/proc/PID/net``.

Every process the cluster starts begins with the same small environment
(``process_env``): the system's PATH, root's home, the cluster's /tmp.
What makes it act as one Ganeti node is added by ``ganeti.daemons.node_env``.

Imported by the shims, so: standard library and layout only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .layout import ClusterPaths

NSENTER = "/usr/bin/nsenter"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOME = "/root"
# Variables of the caller that must not leak into a cluster's processes: a
# virtualenv's python settings would change the interpreter Ganeti runs.
DROPPED_PREFIXES = ("VIRTUAL_ENV", "PYTHON")
# ... and what a process gets unless its caller set it.
DEFAULT_ENV = {"LANG": "C.UTF-8"}


def search_path(caller: str | None = None) -> str:
    """PATH for the cluster's own processes: the system directories first
    (an ordinary Debian user's PATH lacks /usr/sbin, where tc and ip live),
    then whatever else the caller had."""
    dirs = BASE_PATH.split(":")
    extra = [d for d in (caller if caller is not None else os.environ.get("PATH", "")).split(":")
             if d and d not in dirs]
    return ":".join(dirs + extra)


def process_env(paths: ClusterPaths, base: Mapping[str, str] | None = None,
                drop: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment a process of the cluster starts with: ``base`` (the
    caller's environment; None: an empty one) without the variables that
    must not leak in (``drop``: more prefixes), and PATH, HOME, TMPDIR set."""
    dropped = DROPPED_PREFIXES + tuple(drop)
    return {**DEFAULT_ENV,
            **{k: v for k, v in (base or {}).items() if not k.startswith(dropped)},
            **forced_env(paths)}


def forced_env(paths: ClusterPaths) -> dict[str, str]:
    """What every process of the cluster gets whatever its caller had."""
    return {"PATH": BASE_PATH, "HOME": HOME, "TMPDIR": str(paths.tmp)}


def anchor_pid(paths: ClusterPaths, node: str) -> int:
    """The node's anchor, as a pid of the cluster's pid namespace."""
    return int(paths.node_anchor_file(node).read_text())


def nsenter_options(paths: ClusterPaths, node: str, isolated: bool) -> list[str]:
    """nsenter's options to become ``node`` from inside the cluster."""
    base = f"/proc/{anchor_pid(paths, node)}/ns"
    options = [f"--mount={base}/mnt"]
    if isolated:
        options += [f"--net={base}/net", f"--uts={base}/uts"]
    return options


def nsenter(paths: ClusterPaths, node: str, isolated: bool, argv: list[str]) -> list[str]:
    """``argv`` run as ``node``, from inside the cluster."""
    return [NSENTER, *nsenter_options(paths, node, isolated), "--", *argv]


def proc_net(paths: ClusterPaths, node: str, isolated: bool) -> str:
    """The socket tables of ``node``'s network namespace (its own if isolated)."""
    return f"/proc/{anchor_pid(paths, node)}/net" if isolated else "/proc/net"
