"""Ganeti's daemons on a virtual node: which run, with which arguments, how
to tell each is ready, which users must resolve to uid 0.

Facts relied on (Ganeti 2.x and 3.x alike; see docs/architecture.md):

* every daemon runs in the foreground with ``-f``.  With a network namespace
  per node (isolated mode) they keep their default bind address, as on real
  machines; in one shared namespace each node's daemons bind the node's
  address with ``-b``;
* ``ganeti-wconfd``, ``ganeti-luxid`` and ``ganeti-rapi`` run on the master
  only; elsewhere they exit with status 11, "not master";
* ``ganeti-kvmd`` exits at once unless the KVM hypervisor is enabled, so it is
  not started (the fake hypervisor is used);
* ``ganeti-metad`` is started on demand by Ganeti itself.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..netns import PRIMARY_IFNAME
from ..spec import ClusterSpec
from .install import SBIN, Installation

NOT_MASTER_EXIT = 11
# What wconfd and luxid print, and exit 1 with, when the other nodes outvote
# them: an old master coming back after a failover over its head.
LOST_VOTE = "Voting cannot be won by"
# master-ip-setup adds the master IP with this label on the master netdev.
MASTER_IP_LABEL = f"{PRIMARY_IFNAME}:0"

USERS = ["gnt-confd", "gnt-masterd", "gnt-luxid", "gnt-rapi", "gnt-metad", "gnt-mond"]
GROUPS = ["gnt-admin", "gnt-confd", "gnt-daemons", "gnt-luxid", "gnt-masterd",
          "gnt-metad", "gnt-rapi", "gnt-mond"]

# Start order of daemon-util's start-all (stop order is the reverse).
NODE_DAEMONS = ("ganeti-noded", "ganeti-confd", "ganeti-mond")
MASTER_DAEMONS = ("ganeti-wconfd", "ganeti-rapi", "ganeti-luxid")
START_ORDER = ("ganeti-noded", "ganeti-confd", "ganeti-wconfd", "ganeti-rapi",
               "ganeti-luxid", "ganeti-mond")
ON_DEMAND = ("ganeti-metad",)
SKIPPED = {"ganeti-kvmd": "exits at once unless the KVM hypervisor is enabled"}
ALL_DAEMONS = START_ORDER + ON_DEMAND + tuple(SKIPPED)

# Ganeti's own log files of each daemon, below /var/log/ganeti: the names
# of constants.DAEMONS_LOGBASE and DAEMONS_EXTRA_LOGBASE (2.x and 3.x alike).
LOG_BASES = {
    "ganeti-noded": ("node-daemon",), "ganeti-confd": ("conf-daemon",),
    "ganeti-wconfd": ("wconf-daemon",), "ganeti-luxid": ("luxi-daemon",),
    "ganeti-rapi": ("rapi-daemon",), "ganeti-metad": ("meta-daemon",),
    "ganeti-mond": ("monitoring-daemon", "monitoring-daemon-access", "monitoring-daemon-error"),
    "ganeti-kvmd": ("kvm-daemon",),
}

PORTS = {"ganeti-noded": 1811, "ganeti-rapi": 5080, "ganeti-mond": 1815}
UDP_PORTS = {"ganeti-confd": 1814}
SOCKETS = {"ganeti-wconfd": "ganeti-wconfd", "ganeti-luxid": "ganeti-query",
           "ganeti-metad": "ganeti-metad"}
# The longest unix socket path Ganeti makes below a node's root.
LONGEST_SOCKET = "var/run/ganeti/socket/ganeti-wconfd"


@dataclasses.dataclass(frozen=True)
class Readiness:
    """How to tell a daemon answers: one of a TCP port, UDP port, unix socket."""

    tcp: tuple[str, int] | None = None
    udp: tuple[str, int] | None = None
    unix: str | None = None


def missing_programs() -> list[str]:
    """What the system's installation lacks for a cluster (empty: nothing)."""
    from . import install
    return install.system_missing()


def available_daemons(installation: Installation | None) -> tuple[str, ...]:
    """The daemons of START_ORDER that ``installation`` has (all if unknown)."""
    if installation is None:
        return START_ORDER
    return tuple(d for d in START_ORDER if installation.has_daemon(d))


def daemon_args(spec: ClusterSpec, node: str) -> dict[str, str]:
    """Variables of the node's ``etc/default/ganeti``."""
    if spec.isolated:
        return {"NODED_ARGS": "--no-mlock"}
    ip = spec.node_ip(node)
    return {
        "NODED_ARGS": f"--no-mlock -b {ip}",
        "CONFD_ARGS": f"-b {ip}",
        "RAPI_ARGS": f"-b {ip}",
        "MOND_ARGS": f"-b {ip}",
        "METAD_ARGS": f"-b {ip}",
        "WCONFD_ARGS": "",
        "LUXID_ARGS": "",
    }


def daemon_argv(spec: ClusterSpec, node: str, daemon: str, extra: list[str] = ()) -> list[str]:
    var = daemon.removeprefix("ganeti-").upper() + "_ARGS"
    args = daemon_args(spec, node).get(var, "").split()
    return [f"{SBIN}/{daemon}", "-f", *args, *extra]


def node_env(paths_root: Path, node: str) -> dict[str, str]:
    """The two variables that make a process act as ``node``."""
    return {"GANETI_ROOTDIR": str(paths_root / node), "GANETI_HOSTNAME": node}


def readiness(spec: ClusterSpec, node_root: Path, node: str, daemon: str) -> Readiness:
    ip = str(spec.node_ip(node))
    if daemon in PORTS:
        return Readiness(tcp=(ip, PORTS[daemon]))
    if daemon in UDP_PORTS:
        return Readiness(udp=(ip, UDP_PORTS[daemon]))
    if daemon in SOCKETS:
        return Readiness(unix=str(node_root / "var/run/ganeti/socket" / SOCKETS[daemon]))
    return Readiness()


RAPI_PORT = PORTS["ganeti-rapi"]
RAPI_USER = "vcluster"


def rapi_users_file(node_root: Path) -> Path:
    return node_root / "var/lib/ganeti/rapi/users"


def rapi_certificate(node_root: Path) -> Path:
    """The RAPI server's self-signed certificate: the CA a client must trust."""
    return node_root / "var/lib/ganeti/rapi.pem"


def render_rapi_users(password: str) -> str:
    return f"# Written by vcluster-ns\n{RAPI_USER} {password} write\n"


def log_files(node_root: Path, daemon: str) -> list[Path]:
    """Ganeti's own log files of ``daemon`` on the node (whether they exist yet or not)."""
    return [node_root / "var/log/ganeti" / f"{base}.log" for base in LOG_BASES.get(daemon, ())]


def pid_file(node_root: Path, daemon: str) -> Path:
    return node_root / "var/run/ganeti" / f"{daemon}.pid"


def is_initialised(node_root: Path) -> bool:
    """Has this node joined a cluster (daemon-util's own test)?"""
    return (node_root / "var/lib/ganeti/server.pem").is_file()


def master_of(node_root: Path) -> str | None:
    """The master named in the node's ssconf, if it has one."""
    try:
        return (node_root / "var/lib/ganeti/ssconf_master_node").read_text().strip() or None
    except OSError:
        return None


def daemons_for(node_root: Path, node: str) -> list[str]:
    """What ``start-all`` should run on ``node``: master daemons on the master only."""
    if master_of(node_root) == node:
        return list(START_ORDER)
    return list(NODE_DAEMONS)


def os_definitions_dir() -> Path:
    """The OS definitions shipped with vcluster-ns (``dummy``), plus ``noop``."""
    return Path(__file__).parent.parent / "osdefs"

