"""Bring Ganeti up on a virtual cluster: init, node adds, interrupted work.

``Bootstrap(...).run(spec)`` is what ``up`` does after the namespaces and
the supervisor are up: ``gnt-cluster init`` on the first node unless it
has joined a cluster already, ``gnt-node add`` for every node the master
does not list, then it waits until ``gnt-node list`` shows them all.  It
decides *what* Ganeti is asked; how a command reaches a node, how progress
is shown and how the supervisor is asked to start daemons come in as
arguments (it never calls back into the host-side facade).

**Interrupted work.**  An ``up`` can be cut anywhere (SIGKILL, Ctrl-C):

* *init*: ``<cluster>/init-unfinished`` exists from just before
  ``gnt-cluster init`` until it has succeeded.  Ganeti's init writes the
  configuration, then the certificates and keys, then starts the daemons;
  cut anywhere in there, the daemons cannot start (confd without
  ``hmac.key``, wconfd without the master's certificate digest).  Up to its
  end nothing outside the first node knows of the cluster, so the next
  ``up`` stops that node's daemons, removes what the init wrote and runs
  it afresh: redone, never resumed.
* *node adds*: jobs of the master's queue run on after their ``gnt-node
  add`` client died; the next ``up`` waits for them, then adds the nodes
  still missing.  Jobs whose process died with a ``down`` are ended.

The options passed depend on the installation (``install.Installation``):
a version that does not know an option is not given it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

from .. import lifecycle
from ..enter import NodeCommands
from ..errors import OperationFailed
from ..layout import FILE_STORAGE_DIR, SHARED_FILE_STORAGE_DIR, ClusterPaths
from ..netns import BRIDGE, PRIMARY_IFNAME
from ..spec import DEFAULT_GROUP, ClusterSpec
from .install import Installation
from .join import DEFAULT_WAY, LINEAR, Joiner, secondary_ip_args
from .ssconf import behind, current_master, has_configuration, is_initialised

BOOT_TIMEOUT = 300.0

# vcluster-setup's policy, so that tiny test disks and memory sizes pass.
IPOLICY_BOUNDS = (
    "min:disk-size=1,cpu-count=1,disk-count=0,memory-size=1,nic-count=0,spindle-use=0"
    "/max:disk-size=1048576,cpu-count=8,disk-count=16,memory-size=32768,"
    "nic-count=8,spindle-use=12"
)


def init_argv(spec: ClusterSpec, installation: Installation | None = None) -> list[str]:
    """``gnt-cluster init`` for ``spec``; options ``installation`` does not
    know are left out (they are all optional refinements)."""
    # Isolated: the master IP moves to the master's eth0, as on real hardware.
    # Shared: every address is local to every node; lo keeps it out of the way.
    netdev = PRIMARY_IFNAME if spec.isolated else "lo"
    options = [
        "--no-etc-hosts", "--no-ssh-init",
        f"--master-netdev={netdev}",
        *secondary_ip_args(spec, spec.master_node),
        "--enabled-hypervisors=fake",
        f"--file-storage-dir={FILE_STORAGE_DIR}",
        f"--nic-parameters=mode=bridged,link={BRIDGE}",
        *init_param_options(spec.init_params),
    ]
    if installation is not None:
        options = [o for o in options if not o.startswith("--")
                   or installation.accepts("gnt-cluster", o.split("=")[0])]
    return ["gnt-cluster", "init", *options, spec.cluster_fqdn]


DEFAULT_DISK_TEMPLATES = ("diskless", "file")
# A cluster file's [cluster] keys, as gnt-cluster init options.
IPOLICY_OPTIONS = {"bounds_specs": "--ipolicy-bounds-specs", "std_specs": "--ipolicy-std-specs",
                   "vcpu_ratio": "--ipolicy-vcpu-ratio",
                   "spindle_ratio": "--ipolicy-spindle-ratio",
                   "disk_templates": "--ipolicy-disk-templates"}


def init_param_options(params: dict) -> list[str]:
    """``gnt-cluster init`` options for the spec's ``init_params``."""
    templates = params.get("enabled_disk_templates") or DEFAULT_DISK_TEMPLATES
    options = [f"--enabled-disk-templates={','.join(templates)}"]
    if "sharedfile" in templates:  # below /srv, which every node shares
        options.append(f"--shared-file-storage-dir={SHARED_FILE_STORAGE_DIR}")
    if "candidate_pool_size" in params:
        options.append(f"--candidate-pool-size={params['candidate_pool_size']}")
    ipolicy = {"bounds_specs": IPOLICY_BOUNDS, **params.get("ipolicy", {})}
    for key, option in IPOLICY_OPTIONS.items():
        if key in ipolicy:
            value = ipolicy[key]
            if isinstance(value, (list, tuple)):
                value = ",".join(value)
            options.append(f"{option}={value}")
    return options


def cluster_ip_route_argv(spec: ClusterSpec, action: str) -> list[str] | None:
    """``ip route add|del`` of an unreachable route to the cluster IP on the
    master, for the time of ``gnt-cluster init``.

    Init TCP-pings the cluster IP and refuses to run if something answers.
    Nobody can hold it (the network is the cluster's own), but on an isolated
    node only ARP would say so, after the kernel's 3 s.  The route makes the
    ping fail at once; master-ip-setup's address on eth0 is local and wins
    over it.  Shared mode needs none: its whole prefix routes to unreachable.
    """
    if not spec.isolated:
        return None
    return ["ip", "route", action, "unreachable", f"{spec.cluster_ip}/32"]


def node_role_argvs(spec: ClusterSpec, node: str) -> list[list[str]]:
    """What ``gnt-node add`` cannot ask: a node that starts drained or
    offline is modified right after its add."""
    settings = spec.settings_of(node)
    argvs = []
    for key, option in (("drained", "--drained=yes"), ("offline", "--offline=yes")):
        if settings.get(key):
            argvs.append(["gnt-node", "modify", "--force", option, node])
    return argvs


def group_add_argvs(spec: ClusterSpec, existing: set[str]) -> list[list[str]]:
    """``gnt-group add`` for the spec's groups Ganeti does not have yet, and
    ``gnt-group assign-nodes`` for a master that belongs to one of them
    (init puts it in the default group)."""
    argvs = [["gnt-group", "add", g] for g in spec.groups if g not in existing]
    master_group = spec.group_of(spec.master_node)
    if master_group != DEFAULT_GROUP and master_group not in existing:
        argvs.append(["gnt-group", "assign-nodes", "--force", master_group, spec.master_node])
    return argvs


# What a node's var/lib/ganeti holds before init, and keeps: vcluster-ns's
# ensure-dirs marker and the RAPI users file the supervisor writes at boot.
KEPT_BEFORE_INIT = (".vcluster-ns-dirs", "rapi/users")


def clear_unfinished_init(node_root: Path) -> None:
    """Undo an init that did not finish (its daemons stopped first): its
    files below the node's data directory are all there is of it, as no
    other node saw the cluster; Ganeti refuses a second init while
    config.data exists.  Stale sockets and pid files go too."""
    for top, kept in ((node_root / "var/lib/ganeti", KEPT_BEFORE_INIT),
                      (node_root / "var/run/ganeti", ())):
        if not top.is_dir():
            continue
        for path in sorted(top.rglob("*"), reverse=True):
            if path.is_dir() or str(path.relative_to(top)) in kept:
                continue
            path.unlink()


def init_unfinished(paths: ClusterPaths, master_root: Path) -> bool:
    """Was an init started and not finished (see the module's docstring)?
    An init from before the marker existed counts when it wrote the
    configuration but not the certificates."""
    return paths.unfinished_init.exists() or (
        has_configuration(master_root) and not is_initialised(master_root))


# gnt-job list statuses of jobs that are not over yet.
UNFINISHED_JOB_STATES = ("queued", "waiting", "running", "canceling")
# The summary of gnt-node add's job (OpNodeAdd), e.g. NODE_ADD(node2).
NODE_ADD_SUMMARY = "NODE_ADD("
# How long an initialised master may take to answer gnt-node list.
MASTER_ANSWER_TIMEOUT = 60.0
# wconfd pushes ssconf to every online node after the jobs that changed it
# (asynchronously, or within the job for a change of the candidates): how
# long a join's last push may take to reach every node (5 s at 300 nodes
# on a quiet machine; a node cut off by a fault costs this twice).
SSCONF_SETTLE_TIMEOUT = 60.0


class MasterNotAnswering(OperationFailed):
    """An initialised master that never answers: nothing ``up`` knows can
    finish such a cluster, so the hint names the recovery, a new one."""

    def __init__(self, master: str, command: Callable[..., str], detail: str = ""):
        last = detail.strip().splitlines()[-1] if detail.strip() else ""
        super().__init__(
            f"Ganeti on {master} does not answer gnt-node list" + (f" ({last})" if last else ""),
            f"see '{command('logs', master)}'; if it cannot be mended, start afresh with "
            f"'{command('destroy', '--yes')}' and '{command('up')}'")


def node_list_argv() -> list[str]:
    return ["gnt-node", "list", "--no-headers", "-o", "name"]


class Bootstrap:
    """Ganeti's side of ``up``.

    ``commands``: runs commands on the nodes (enter.NodeCommands);
    ``steps``: times the steps and records their phases (lifecycle.Recorder);
    ``start_nodes(names)`` / ``stop_node(name)``: ask the supervisor to start
    the daemons of nodes that joined / to kill one node's daemons;
    ``command(*words)``: how the user types a vcluster-ns command for this
    cluster (for hints).
    """

    def __init__(self, commands: NodeCommands, paths: ClusterPaths,
                 installation: Installation | None, *,
                 steps: lifecycle.Recorder,
                 start_nodes: Callable[[list[str]], None],
                 stop_node: Callable[[str], None],
                 command: Callable[..., str],
                 progress: Callable[[str], None] = lambda m: None,
                 detail: Callable[[str], None] = lambda m: None,
                 join: str = DEFAULT_WAY):
        self.commands = commands
        self.paths = paths
        self.installation = installation
        self.steps = steps
        self.start_nodes = start_nodes
        self.stop_node = stop_node
        self.command = command
        self.progress = progress
        self.join = join
        from ..counter import Counter
        self.joiner = Joiner(commands, installation, command=command, progress=progress,
                             detail=detail,
                             counter=lambda total, what: Counter(total, what, progress))

    def run(self, spec: ClusterSpec) -> None:
        first = spec.master_node
        master_root = self.paths.node_root(first)
        if spec.joins:  # slices: the master's slice runs init (join_master)
            master = self.join_master(spec)
        elif init_unfinished(self.paths, master_root):
            self.progress(f"gnt-cluster init on {first} was interrupted: starting it afresh")
            self.stop_node(first)
            clear_unfinished_init(master_root)
        if not spec.joins and not is_initialised(master_root):
            self.progress(f"gnt-cluster init on {first}")
            with self.steps.step(lifecycle.INIT):
                self.init_cluster(spec)
            master = first
        elif not spec.joins:
            master = current_master({n: self.paths.node_root(n) for n in spec.node_names}, first)
            # A running cluster an interrupted 'up' left: the master's
            # missing daemons start first (it must answer), then the jobs
            # left in its queue finish; ``up`` starts what the other nodes
            # still lack once the cluster is whole (lifecycle.settle).
            if spec.is_local(master):  # slices: it may run on another machine
                self.start_nodes([master])
            self.finish_interrupted_jobs(master)
        if spec.groups:
            self.add_groups(master, spec)
        members = set(self.members(master))
        missing = [n for n in spec.node_names if n not in members]
        unfinished = self.paths.unfinished_join.exists()
        if unfinished:
            self.progress("an interrupted join left nodes offline: finishing it")
        if missing or unfinished:
            with self.steps.step(lifecycle.JOIN):
                self.join_nodes(master, spec, missing, unfinished)
            # What the watcher would do after a node add: start the rest.
            self.progress(f"starting confd and mond on {len(missing)} new nodes")
            with self.steps.step(lifecycle.NEW_DAEMONS):
                self.start_nodes(missing)
            self.settle_ssconf(master, spec)
        self.progress("waiting for gnt-node list to show every node")
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            listed = set(self.node_list(master))
            if listed >= set(spec.node_names):
                break
            if time.monotonic() > deadline:
                raise OperationFailed(
                    f"gnt-node list shows {len(listed)} of {spec.nodes} nodes",
                    f"see '{self.command('logs', master)}'")
            time.sleep(0.5)
        if spec.seed and spec.seed.get("count") and not self.paths.seeded_file.exists():
            self.seed_instances(master, spec)

    def settle_ssconf(self, master: str, spec: ClusterSpec) -> None:
        """Every online node's ssconf files as the master's, once the join's
        pushes are over.  A push that misses a node (an RPC timeout on a
        busy machine: "Can't distribute Ssconf" in wconfd's log) is not
        tried again until the configuration changes: ``gnt-cluster
        redist-conf`` changes it once, then a node still behind is named.
        Only this machine's nodes are read (slices: the others' are theirs)."""
        roots = {n: self.paths.node_root(n) for n in spec.node_names if spec.is_local(n)}
        if master not in roots:
            return
        for attempt in range(2):
            deadline = time.monotonic() + SSCONF_SETTLE_TIMEOUT
            while (late := behind(roots, master)) and time.monotonic() < deadline:
                time.sleep(1)
            if not late:
                return
            if attempt == 0:
                self.progress(f"ssconf of {len(late)} node(s) differs from the master's: "
                              "gnt-cluster redist-conf")
                self.commands.run(master, "gnt-cluster", "redist-conf",
                                  timeout=SSCONF_SETTLE_TIMEOUT)
        self.progress(f"warning: ssconf of {len(late)} node(s) still differs from the "
                      f"master's ({', '.join(late[:5])}); "
                      f"'{self.command('run', master, 'gnt-cluster', 'redist-conf')}' "
                      "pushes it again")

    def join_master(self, spec: ClusterSpec) -> str:
        """A joining slice (docs/slices.md): the master is whichever node
        this slice's nodes name, else node1 on the master's slice, reached
        through the link; a local master gets its daemons first."""
        master = current_master({n: self.paths.node_root(n) for n in spec.node_names},
                                spec.master_node)
        if spec.is_local(master):
            self.start_nodes([master])
        self.progress(f"joining the cluster of {spec.join} (master {master})")
        return master

    def join_nodes(self, master: str, spec: ClusterSpec, missing: list[str],
                   unfinished: bool) -> None:
        """The missing nodes join (join.py: the way asked, or linear to
        finish an interrupted linear join), then get the roles the cluster
        file asks (drained, offline) that an add cannot give."""
        # A joining slice adds its nodes the plain way: the linear way's
        # pool changes and offline sends act on the whole cluster, which
        # the master's slice owns (docs/slices.md).
        if (self.join == LINEAR or unfinished) and not spec.joins:
            if not unfinished:  # else it holds what the join must restore
                self.paths.unfinished_join.write_text(f"pid={os.getpid()}\n")
            self.joiner.linear(master, spec, missing, self.paths.unfinished_join)
            self.paths.unfinished_join.unlink()
        else:
            self.joiner.sequential(master, spec, missing)
        for node in missing:
            for argv in node_role_argvs(spec, node):
                self.run_checked(master, argv)

    def add_groups(self, master: str, spec: ClusterSpec) -> None:
        listing = self.commands.run(master, "gnt-group", "list", "--no-headers", "-o", "name")
        existing = set(listing.stdout.split()) if listing.returncode == 0 else set()
        for argv in group_add_argvs(spec, existing):
            self.run_checked(master, argv)

    def seed_instances(self, master: str, spec: ClusterSpec) -> None:
        """Create the cluster file's instances, once (a marker file records
        it: instances removed later are not brought back by the next up)."""
        from .seed import seed_argv
        count = spec.seed["count"]
        self.progress(f"creating {count} instances ({spec.seed.get('placement', 'spread')})")
        with self.steps.step(lifecycle.SEED):
            result = self.commands.run(master, *seed_argv(spec.instance_names[:count], spec.seed))
        if result.returncode != 0:
            lines = (result.stdout.strip() or result.stderr.strip()).splitlines()
            raise OperationFailed(
                f"creating {count} instances failed on {master}: "
                f"{lines[-1] if lines else f'status {result.returncode}'}",
                f"see '{self.command('run', master, 'gnt-job', 'list')}'; "
                "'up' again tries the rest")
        self.paths.seeded_file.write_text(f"{count}\n")

    def init_cluster(self, spec: ClusterSpec) -> None:
        """``gnt-cluster init``, marked unfinished until it has succeeded."""
        self.paths.unfinished_init.write_text(f"{os.getpid()}\n")
        # replace, not add: an init interrupted before its 'del' left the route
        add_route = cluster_ip_route_argv(spec, "replace")
        if add_route:
            self.run_checked(spec.master_node, add_route)
        try:
            self.run_checked(spec.master_node, init_argv(spec, self.installation))
        except BaseException:
            if add_route:  # best effort: init's own error is the one to report
                self.commands.run(spec.master_node, *cluster_ip_route_argv(spec, "del"))
            raise
        if add_route:
            self.run_checked(spec.master_node, cluster_ip_route_argv(spec, "del"))
        self.paths.unfinished_init.unlink()

    def finish_interrupted_jobs(self, master: str) -> None:
        """Jobs that were running when the cluster went down have no process
        left; Ganeti would notice only at luxid's next queue scan (minutes).
        ``gnt-job cancel --kill`` checks the job's livelock first, so it ends
        exactly those jobs (as 'error' or 'canceled') and never a live one."""
        listing = self.commands.run(master, "gnt-job", "list", "--no-headers", "-o", "id,status")
        running = [line.split()[0] for line in listing.stdout.splitlines()
                   if line.split()[1:] == ["running"]]
        if running:
            self.progress(f"ending {len(running)} job(s) interrupted by the last down")
            self.commands.run(master, "gnt-job", "cancel", "--kill", "--yes-do-it", *running)
        # Node adds still alive (of an 'up' that was interrupted while the
        # cluster ran on) finish first: adding their nodes again would fail
        # with "already in the cluster".  Other jobs are the user's business.
        listing = self.commands.run(master, "gnt-job", "list", "--no-headers",
                              "-o", "id,status,summary")
        pending = [words[0] for words in map(str.split, listing.stdout.splitlines())
                   if len(words) >= 3 and words[1] in UNFINISHED_JOB_STATES
                   and words[2].startswith(NODE_ADD_SUMMARY)]
        if pending:
            self.progress(f"waiting for {len(pending)} unfinished node add(s)")
            for job in pending:
                self.commands.run(master, "gnt-job", "watch", job, timeout=BOOT_TIMEOUT)

    def members(self, master: str) -> list[str]:
        """The master's node list; an initialised master that never answers
        cannot be finished: say how to recover."""
        deadline = time.monotonic() + MASTER_ANSWER_TIMEOUT
        while True:
            result = self.commands.run(master, *node_list_argv())
            if result.returncode == 0:
                return result.stdout.split()
            if time.monotonic() > deadline:
                raise MasterNotAnswering(master, self.command, result.stderr or result.stdout)
            time.sleep(0.5)

    def node_list(self, node: str) -> list[str]:
        result = self.commands.run(node, *node_list_argv())
        if result.returncode != 0:
            return []
        return result.stdout.split()

    def run_checked(self, node: str, argv: list[str]) -> str:
        result = self.commands.run(node, *argv)
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip().splitlines()
            last = output[-1] if output else f"status {result.returncode}"
            raise OperationFailed(f"'{' '.join(argv[:3])}' failed on {node}: {last}")
        return result.stdout

