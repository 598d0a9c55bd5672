"""Ganeti's daemons on a virtual node: which run, with which arguments, how
to tell each is ready, which users must resolve to uid 0.

``describe(installations, spec, paths, node, daemon)`` is the whole
description of one daemon on one node, ready for the runner
(``daemonspec.DaemonSpec``): its argv (entered into the node's namespaces),
its environment (``node_env``, the only builder of a node's environment),
readiness, the exits and messages that are answers rather than crashes,
pid file and log.  The service makes one call here and one to the runner.

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
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import nodes
from ..daemonspec import TCP, UDP, UNIX, DaemonSpec, Listening
from ..layout import ClusterPaths
from ..netns import PRIMARY_IFNAME
from ..spec import ClusterSpec
from . import ssconf
from .install import SBIN, Installation

NOT_MASTER_EXIT = 11
NOT_MASTER = "not-master"  # the runner state of a daemon that answered "not master"
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
# GHC's non-threaded runtime, which every Haskell daemon of Debian's 3.0.2
# uses (``+RTS --info``: rts_v), ticks with SIGVTALRM 100 times a second,
# idle or not (only the threaded runtime stops its ticker when idle), and
# Ganeti links without -rtsopts, so ``+RTS -V0`` is refused.  Each tick
# wakes the daemon from its select: on a 300-node cluster the 300 confds
# took 45 CPU seconds a minute during verify (4.4 with the signal
# blocked; docs/performance.md, eighth session).  The
# daemons every node runs start with the signal blocked, so that the timer
# never wakes them; their threads then switch where they block (I/O,
# MVars, delays), which is where an idle daemon's threads are.  The
# master's daemons keep their ticks: there one busy thread (a whole
# configuration serialised) must not hold up the others' answers.
# Harmless where unused (Python daemons, a threaded runtime's timerfd).
TICKLESS = frozenset({"ganeti-confd", "ganeti-mond"})
TICK_SIGNALS = (signal.SIGVTALRM,)

# daemon-util's verbs that act on several daemons, and on which.
VERB_DAEMONS = {"start-all": START_ORDER, "stop-all": START_ORDER + ON_DEMAND,
                "start-master": MASTER_DAEMONS, "stop-master": MASTER_DAEMONS}

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
class NotStarted:
    """A daemon that is not started on purpose, and why."""

    reason: str


def missing_programs() -> list[str]:
    """What the system's installation lacks for a cluster (empty: nothing)."""
    from . import install
    return install.system_missing()


def available(installations: Sequence[Installation] | None,
              daemons: Sequence[str] = START_ORDER) -> tuple[str, ...]:
    """Those of ``daemons`` one of ``installations`` has (all, if unknown:
    None).  A build without monitoring has no mond, and Ganeti does not ask
    for it then."""
    if installations is None:
        return tuple(daemons)
    return tuple(d for d in daemons if any(i.has_daemon(d) for i in installations))


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


# The caller's Ganeti variables name another node (or none).
NODE_ENV_DROPPED = ("GANETI_",)


def node_env(paths: ClusterPaths, node: str | None,
             base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a process acting as ``node`` (None: as no node):
    the cluster's process environment (see nodes.process_env; ``base``: the
    caller's), Ganeti's variables of the caller dropped and the node's set."""
    env = nodes.process_env(paths, base, drop=NODE_ENV_DROPPED)
    if node is not None:
        env.update(GANETI_ROOTDIR=str(paths.node_root(node)), GANETI_HOSTNAME=node)
    return env


def readiness(spec: ClusterSpec, node_root: Path, node: str, daemon: str,
              proc_net: str = "/proc/net") -> Listening | None:
    """The socket that shows ``daemon`` on ``node`` answers (None: none)."""
    ip = str(spec.node_ip(node))
    if daemon in PORTS:
        return Listening(TCP, (ip, PORTS[daemon]), proc_net)
    if daemon in UDP_PORTS:
        return Listening(UDP, (ip, UDP_PORTS[daemon]), proc_net)
    if daemon in SOCKETS:
        return Listening(UNIX, str(node_root / "var/run/ganeti/socket" / SOCKETS[daemon]),
                         proc_net)
    return None


def describe(installations: Sequence[Installation] | None, spec: ClusterSpec,
             paths: ClusterPaths, node: str, daemon: str,
             extra: Sequence[str] = ()) -> DaemonSpec | NotStarted:
    """Everything the runner needs to run ``daemon`` on ``node``, or why it
    is not started (``installations``: the cluster's, None if unknown)."""
    if daemon in SKIPPED:
        return NotStarted(SKIPPED[daemon])
    if daemon not in available(installations, ALL_DAEMONS):
        return NotStarted("not in this Ganeti build")
    root = paths.node_root(node)
    return DaemonSpec(
        group=node,
        name=daemon,
        argv=nodes.nsenter(paths, node, spec.isolated,
                           daemon_argv(spec, node, daemon, list(extra))),
        env=node_env(paths, node),
        log_path=paths.node_log_dir(node) / f"{daemon}.log",
        ready=readiness(spec, root, node, daemon, nodes.proc_net(paths, node, spec.isolated)),
        ok_exits={NOT_MASTER_EXIT: NOT_MASTER},
        ok_messages={LOST_VOTE: NOT_MASTER},
        pid_file=pid_file(root, daemon),
        blocked_signals=TICK_SIGNALS if daemon in TICKLESS else (),
    )


def log_files(node_root: Path, daemon: str) -> list[Path]:
    """Ganeti's own log files of ``daemon`` on the node (whether they exist yet or not)."""
    return [node_root / "var/log/ganeti" / f"{base}.log" for base in LOG_BASES.get(daemon, ())]


def pid_file(node_root: Path, daemon: str) -> Path:
    return node_root / "var/run/ganeti" / f"{daemon}.pid"


def daemons_for(node_root: Path, node: str) -> list[str]:
    """What ``start-all`` should run on ``node``: master daemons on the
    node that believes itself master (its own ssconf), as daemon-util's
    master daemons would exit "not master" elsewhere."""
    if ssconf.master_of(node_root) == node:
        return list(START_ORDER)
    return list(NODE_DAEMONS)


def boot_daemons(node_root: Path, node: str) -> list[str] | None:
    """What a node starts with when its cluster comes up (None: it has not
    joined, so nothing: Ganeti starts its noded when it adds it)."""
    if not ssconf.is_initialised(node_root):
        return None
    return daemons_for(node_root, node)


def expected(paths: ClusterPaths, node_names: Sequence[str],
             installations: Sequence[Installation] | None) -> dict[str, list[str]]:
    """The daemons each node that has joined should be running."""
    have = set(available(installations))
    found = {}
    for node in node_names:
        wanted = boot_daemons(paths.node_root(node), node)
        if wanted is not None:
            found[node] = [d for d in wanted if d in have]
    return found


def installations_of(spec: ClusterSpec) -> tuple[Installation, ...] | None:
    """The installations a cluster runs (None: none to ask, as with
    --no-init on a machine without Ganeti)."""
    from ..errors import VclusterError
    from . import install
    try:
        default, extras = install.for_spec(spec)
    except VclusterError:
        return None
    return (default, *extras)


# A node's first setup: Ganeti's ensure-dirs makes its directories with
# their modes; a marker keeps later starts from running it again.
SETUP_MARKER = "var/lib/ganeti/.vcluster-ns-dirs"


def needs_setup(node_root: Path) -> bool:
    return not (node_root / SETUP_MARKER).exists()


def setup_done(node_root: Path) -> None:
    (node_root / SETUP_MARKER).touch()


def watches(node_root: Path) -> bool:
    """Does ``ganeti-watcher`` run on this node (as cron would): once it joined."""
    return ssconf.is_initialised(node_root)


def os_definitions_dir() -> Path:
    """The OS definitions shipped with vcluster-ns (``dummy``), plus ``noop``."""
    return Path(__file__).parent.parent / "osdefs"

