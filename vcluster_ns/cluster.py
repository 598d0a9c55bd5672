"""``VirtualCluster``: the Python API on the host side; the CLI is a thin layer.

    vc = VirtualCluster("default")
    vc.up(ClusterSpec(nodes=3))          # create if absent, start, init Ganeti
    vc.run("node1", "gnt-node", "list").stdout
    vc.status()["nodes"]
    vc.down()

A facade: it holds the cluster's lock (lifecycle.py) around every command
that changes the cluster and hands the work to the module that owns it:

    lifecycle     states, steps, judging, "up" checked at the end (settle)
    completeness  the facts lifecycle judges: what a running cluster lacks
    preflight     what is checked before anything is made; creation
    launch        the cluster's processes started and stopped from the host
    ganeti/       bootstrap (init, node adds), daemons, ssconf (the master)
    enter         commands run on a node (NodeCommands)
    logs          which log files, and the export archive
    snapshot      copies of a down cluster

Progress of long operations goes to a callback (the CLI prints it).
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
from pathlib import Path
from typing import Callable

from . import completeness, control, enter, launch, layout, lifecycle, roots
from . import logs as logfiles
from .errors import ClusterNotUp, InvalidInput, OperationFailed, VclusterError
from .ganeti import bootstrap, daemons, ssconf
from .layout import ClusterPaths
from .roots import default_root
from .spec import ClusterSpec, check_label

Progress = Callable[[str], None]
BOOT_TIMEOUT = launch.BOOT_TIMEOUT
STATUS_KEYS = {"cluster", "ganeti_cluster", "cluster_ip", "network", "master", "nodes"}
# vcluster_ns.boot names the cluster's UTS namespace vcluster-<name>; a host
# name has at most 64 bytes (sethostname fails with EINVAL beyond).
MAX_HOSTNAME = 64
HOSTNAME_PREFIX = "vcluster-"


def owner(method):
    """Run ``method`` holding the cluster's lock (see lifecycle.py)."""
    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.owned():
            return method(self, *args, **kwargs)
    return locked


class VirtualCluster:
    def __init__(self, name: str = roots.DEFAULT_CLUSTER, root: Path | None = None,
                 progress: Progress = lambda msg: None, detail: Progress = lambda msg: None):
        self.name = check_label("cluster name", name)
        if len(os.fsencode(HOSTNAME_PREFIX + name)) > MAX_HOSTNAME:
            raise InvalidInput(
                f"cluster name {name!r} is too long ({len(name)} characters): the cluster's "
                f"host name {HOSTNAME_PREFIX}{name} would exceed {MAX_HOSTNAME} bytes",
                f"use at most {MAX_HOSTNAME - len(HOSTNAME_PREFIX)} characters")
        self.given_root = Path(root) if root else None
        self.root = layout.check_root(self.given_root or default_root())
        self.paths = ClusterPaths(self.root / name)
        self.progress = progress
        self.detail = detail  # one line per node of long work (up -v)
        self._lock = lifecycle.ClusterLock(self.root, name)
        self.steps = lifecycle.Recorder(self.paths.dir, owns=lambda: self._lock.held)
        self.commands = enter.NodeCommands(self._locate, self._env)
        if len(os.fsencode(self.paths.control_socket)) > layout.MAX_SOCKET_PATH:
            raise InvalidInput(
                f"cluster directory {self.paths.dir} is too long for a unix socket path",
                f"use a --root shorter than {layout.MAX_SOCKET_PATH - 20} characters")

    @property
    def timings(self) -> dict[str, float]:
        """How long each step of the last ``up`` took (lifecycle.Step labels)."""
        return self.steps.timings

    def command(self, *words: str) -> str:
        """A vcluster-ns command line that reaches this cluster, for hints."""
        return roots.command(self.name, self.given_root, *words)

    # -- state -------------------------------------------------------------
    def exists(self) -> bool:
        return self.paths.spec_file.exists()

    def spec(self) -> ClusterSpec:
        if not self.exists():
            raise ClusterNotUp(f"no cluster named {self.name!r} in {self.root}",
                               "create it with 'vcluster-ns up'")
        return ClusterSpec.load(self.paths.spec_file)

    def pid1(self) -> int | None:
        return launch.pid1(self.paths)

    def is_up(self) -> bool:
        return self.pid1() is not None

    def require_up(self) -> int:
        self.spec()
        pid = self.pid1()
        if pid is None:
            raise ClusterNotUp(f"cluster {self.name!r} is not up",
                               "start it with 'vcluster-ns up'")
        return pid

    def call(self, message: dict, timeout: float = 120.0) -> dict:
        self.require_up()
        return control.call(self.paths.control_socket, message, timeout)

    def installation(self, spec: ClusterSpec | None = None):
        """The Ganeti this cluster runs (``ganeti.install.Installation``)."""
        from .ganeti import install
        return install.resolve((spec or self.spec()).ganeti)

    @property
    def nodes(self) -> list[str]:
        """Node names (also their directory names)."""
        return self.spec().node_names

    @property
    def master(self) -> str:
        """The current Ganeti master (the first node until Ganeti says otherwise)."""
        spec = self.spec()
        return ssconf.current_master(self._node_roots(spec), spec.master_node)

    def _node_roots(self, spec: ClusterSpec) -> dict[str, Path]:
        return {n: self.paths.node_root(n) for n in spec.node_names}

    def state(self) -> tuple[str, list[str]]:
        """The lifecycle state (lifecycle.STATES) and, when incomplete, what is missing."""
        if not self.exists():
            return lifecycle.judge(lifecycle.Facts(exists=False))
        return completeness.state(self.paths, self.spec(), self.is_up(),
                                  self._lock.holder() not in (None, os.getpid()), self.call)

    def missing(self, spec: ClusterSpec, init: bool | None = None,
                status: dict | None = None) -> list[str]:
        """What a running cluster lacks to be complete (completeness.missing)."""
        return completeness.missing(self.paths, spec, self.call, init, status)

    def owned(self):
        """Hold the cluster's lock (again, if this object holds it already)."""
        def waiting(pid):
            who = f"pid {pid}" if pid else "another command"
            self.progress(f"waiting for {who}, which is changing cluster {self.name!r}")
        return self._lock.owning(waiting)

    # -- create / up -------------------------------------------------------
    def create(self, spec: ClusterSpec) -> None:
        from . import preflight
        preflight.create(self.paths, self.root, spec)

    @owner
    def up(self, spec: ClusterSpec | None = None, given: set[str] = frozenset(),
           init: bool = True, join: str = bootstrap.DEFAULT_WAY) -> bool:
        """Bring the cluster up; False if it already was, complete.

        ``given`` names the spec fields the user set explicitly (checked
        against an existing cluster); ``join``: how nodes join Ganeti
        (ganeti/join.py: linear, or sequential node by node).  A cluster that runs but is
        incomplete (see ``missing``) is finished: init, node adds, daemons.
        Returns only with every node complete; otherwise it raises, saying
        what is still missing.
        """
        from . import preflight
        spec, created = preflight.requested(self, spec, given)
        self.steps.facts = {"init": int(init)}
        if not created and self.is_up():
            launch.wait_booted(self.paths, self.name)
            lacking = self.missing(spec, init)
            if not lacking:
                return False
            # Perhaps it was brought up with --no-init.  (Not doctor's resource
            # checks: the running cluster holds its share already.)
            preflight.ganeti(self, spec)
            self.progress(f"cluster {self.name!r} is up but incomplete "
                          f"({'; '.join(lacking)}): finishing it")
        else:
            spec = preflight.before_start(self, spec, init, created)
            # Whatever an interrupted 'up' left booting has no supervisor.pid
            # yet: it would be a second cluster on this directory.
            lifecycle.kill_strays(self.name, self.paths.dir)
            self.steps.enter(lifecycle.BOOTING)
            with self.steps.step(lifecycle.BOOT):
                launch.start(self.paths, lambda: preflight.start_files(self, spec),
                             self.progress)
        try:
            if init and spec.joins:  # slices: the master's slice answers over the link
                from .slices import wait_link
                wait_link(spec, self.paths, self.run, self.progress, self.command)
            if init:
                self._bootstrap(spec, join).run(spec)
            with self.steps.step(lifecycle.FINISH):
                lacking = lifecycle.settle(
                    lambda: self.missing(spec, init),
                    lambda: completeness.start_missing(self.paths, spec, self.call,
                                                       self.progress, BOOT_TIMEOUT))
        finally:
            with contextlib.suppress(VclusterError):  # the watcher's schedule starts
                self.call({"op": "settled"})
        if lacking:
            raise OperationFailed(f"cluster {self.name!r} is incomplete: {'; '.join(lacking)}",
                                  f"'{self.command('up')}' tries again; see "
                                  f"'{self.command('status')}' and its logs")
        lifecycle.set_phase(self.paths.dir, lifecycle.UP, init=int(init))
        return True

    def _bootstrap(self, spec: ClusterSpec,
                   join: str = bootstrap.DEFAULT_WAY) -> bootstrap.Bootstrap:
        return bootstrap.Bootstrap(
            self.commands, self.paths, self.installation(spec), steps=self.steps,
            start_nodes=lambda names: self.call({"op": "nodes-start", "nodes": names},
                                                timeout=BOOT_TIMEOUT),
            stop_node=lambda node: self.call({"op": "node-stop", "node": node, "kill": True}),
            command=self.command, progress=self.progress, detail=self.detail, join=join)

    # -- commands ----------------------------------------------------------
    def resolve_node(self, node: str) -> str:
        """A node's full name; ``master`` is whichever node is master now."""
        if node == "master":
            return self.master
        return self.spec().resolve_node(node)

    def _locate(self, node: str | None) -> enter.Target:
        spec = self.spec()
        full = None if node is None else self.resolve_node(node)
        pid1 = self.require_up()
        if full is not None and not spec.is_local(full):
            from .slices import remote_target
            return remote_target(self.paths, spec, pid1, full)
        anchor = None if full is None else self.paths.node_anchor_file(full)
        return enter.target(pid1, full, anchor, spec.isolated)

    def _env(self, node: str | None) -> dict[str, str]:
        return daemons.node_env(self.paths, node, os.environ)

    def run(self, node: str | None, *argv: str, capture: bool = True, check: bool = False,
            input: str | None = None, timeout: float | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` on ``node`` (None: no node): see enter.NodeCommands.run."""
        return self.commands.run(node, *argv, capture=capture, check=check, input=input,
                                 timeout=timeout)

    def run_foreground(self, node: str | None, argv: list[str], cwd: str | None = None) -> int:
        return self.commands.foreground(node, argv, cwd)

    def not_master_hint(self, node: str, argv: list[str], code: int) -> str | None:
        """One line for a Ganeti command that failed on a node that is not the
        master (Ganeti answers "This is not the master node" there)."""
        from .policy import ganeti_command
        shown = ganeti_command(argv)
        if code == 0 or node == "master" or shown is None:
            return None
        try:
            full, master = self.resolve_node(node), self.master
        except VclusterError:
            return None
        if full == master:
            return None
        return (f"hint: {full.split('.')[0]} is not the master; "
                f"'{self.command('run', 'master', shown)}' runs it on the master, "
                "whichever node that is")

    # -- failures on demand ------------------------------------------------
    @owner
    def stop_node(self, node: str) -> str:
        """Kill every daemon of ``node`` at once (a power loss); returns its name."""
        full = self.spec().resolve_node(node)
        self.call({"op": "node-stop", "node": full, "kill": True})
        return full

    @owner
    def start_node(self, node: str) -> str:
        full = self.spec().resolve_node(node)
        self.call({"op": "node-start", "node": full}, timeout=BOOT_TIMEOUT)
        return full

    @owner
    def kill_daemon(self, node: str, daemon: str) -> tuple[str, str]:
        """Crash one daemon with SIGKILL; the supervisor's restart policy applies."""
        full = self.spec().resolve_node(node)
        name = logfiles.daemon_name(daemon)  # an unknown daemon is bad input
        self.call({"op": "kill", "node": full, "daemon": name})
        return full, name

    @owner
    def net(self, action: str, nodes: list[str] = (), value: str | None = None) -> dict:
        """A network fault (see faults.py): partition, heal, down, up, delay, loss.

        Returns the faults in force afterwards.
        """
        from .slices import net_request
        spec = self.spec()
        return self.call(net_request(spec, [spec.resolve_node(n) for n in nodes], action, value,
                                     self.paths.slice_registry))["faults"]

    # -- snapshots (snapshot.py) ---------------------------------------------
    @owner
    def snapshot(self, name: str, force: bool = False, stop: bool = False):
        """Save this cluster, which must be down, as snapshot ``name``; with
        ``stop``, a cluster that is up is brought down for the copy and up again.
        Returns the ``snapshot.SnapshotInfo``."""
        from . import snapshot as snapshots  # here: 'run' must not pay for its imports
        spec = self.spec()
        snapshots.refuse_existing(self.root, name, force)  # before any down
        was_up = self.is_up()
        snapshots.refuse_up(self.name, was_up, stop)
        if was_up:
            self.down()
        try:
            self.progress(f"copying {self.paths.dir} to snapshot {name!r}")
            return snapshots.create(self.paths, spec, self.root, name, force)
        finally:
            if was_up:
                self.up()

    @owner
    def from_snapshot(self, name: str, spec: ClusterSpec | None = None,
                      given: set[str] = frozenset(), reset: bool = False,
                      init: bool = True) -> bool:
        """Make this cluster a copy of snapshot ``name`` and bring it up.

        ``spec``/``given``: what the user asked for; fields other than the
        host-side ones (snapshot.OVERRIDABLE) must match the snapshot's.
        """
        from . import preflight
        from . import snapshot as snapshots
        info, saved = snapshots.load(self.root, name)
        target = snapshots.restored_spec(saved, self.name, spec, given)
        snapshots.refuse_target(self.name, self.paths.dir.exists(), self.is_up(), reset)
        preflight.environment(self, target, init)
        self.progress(f"restoring snapshot {name!r} into {self.paths.dir}")
        with self.steps.step(lifecycle.RESTORE):
            snapshots.restore(self.root, name, info, target, self.paths)
        return self.up(init=init)

    # -- status / down / destroy -------------------------------------------
    def status(self) -> dict:
        """``state``: down, up, incomplete (``missing`` says what), or the
        phase a command is in (booting, initialising, joining, stopping);
        ``lifecycle``: the same, with created for a cluster never started."""
        from .ganeti import install
        spec = self.spec()
        state, lacking = self.state()
        info = {"cluster": self.name, "state": state, "lifecycle": state,
                "directory": str(self.paths.dir), "slice": spec.slice,
                "ganeti": install.status(spec, self._node_roots(spec))}
        if not self.is_up():
            info["state"] = state if state in lifecycle.PHASES else lifecycle.DOWN
            return {**info, "nodes": [{"name": n, "address": str(ip), **node_resources(spec, n)}
                                      for n, ip in spec.node_ips.items()]}
        answer = checked_status(self.call({"op": "status"}), self.paths)
        for node in answer["nodes"]:
            if isinstance(node, dict) and node.get("name") in spec.node_names:
                node.update(node_resources(spec, node["name"]))
        info.update(pid=self.pid1(), **answer)
        if spec.sliced:
            from .slices import read_state
            info["link_keeper"] = read_state(self.paths.link_state) if spec.joins else None
        if state == lifecycle.INCOMPLETE:
            info.update(missing=lacking, recovery=self.command("up"))
        return info

    @owner
    def down(self) -> bool:
        """Stop every daemon, end the namespaces; False if it was not up.

        Needs no readable cluster.json: a cluster whose spec is corrupted can
        still be stopped (and destroyed)."""
        if not self.exists():
            self.spec()  # raises "no cluster named ..."
        pid = self.pid1()
        if pid is None:
            strays = lifecycle.kill_strays(self.name, self.paths.dir)
            launch.remove_runtime_files(self.paths)
            return bool(strays)
        with contextlib.suppress(OSError):  # a read-only directory can still go down
            lifecycle.set_phase(self.paths.dir, lifecycle.STOPPING)
        launch.stop(self.paths, pid, self.progress)
        # A second cluster on this directory, started by an 'up' that lost a
        # race (before clusters had a lock), has no supervisor.pid: find it.
        lifecycle.kill_strays(self.name, self.paths.dir)
        launch.remove_runtime_files(self.paths)
        with contextlib.suppress(OSError):
            lifecycle.set_phase(self.paths.dir, lifecycle.DOWN)
        return True

    @owner
    def destroy(self) -> None:
        if not self.exists():
            self.spec()  # raises "no cluster named ..."
        self.down()
        try:
            layout.remove_cluster_tree(self.paths)
        except OSError as exc:
            raise OperationFailed(
                f"cannot remove {self.paths.dir}: {exc.strerror or exc}"
                + (f" ({exc.filename})" if exc.filename else ""),
                "fix the permissions of the cluster directory (or remove it as its owner)"
            ) from None

    def export_logs(self, directory: Path) -> Path:
        """Pack every log of the cluster and its status into one tar.gz."""
        spec = self.spec()
        return logfiles.export(self.paths, spec, self.status(), directory)

    def logs(self, node: str, daemon: str | None = None) -> list[Path]:
        return logfiles.files(self.paths, self.spec().resolve_node(node), daemon)


def checked_status(answer: dict, paths: ClusterPaths) -> dict:
    """The supervisor's status answer, refused if it is not one."""
    answer.pop("ok", None)
    absent = STATUS_KEYS - answer.keys()
    if absent or not isinstance(answer.get("nodes"), list):
        raise OperationFailed(
            f"the supervisor at {paths.control_socket} answered garbage "
            f"(status without {', '.join(sorted(absent)) or 'a node list'})",
            "see supervisor.log in the cluster directory; 'vcluster-ns down' and 'up' again")
    return answer


def node_resources(spec: ClusterSpec, node: str) -> dict:
    """A node's group and configured figures for ``status`` (None: the host's)."""
    settings = spec.settings_of(node)
    return {"group": spec.group_of(node), "memory_mib": settings.get("memory"),
            "cpus": settings.get("cpus"), "disk_mib": settings.get("disk")}
