"""``VirtualCluster``: the Python API on the host side; the CLI is a thin layer.

    vc = VirtualCluster("default")
    vc.up(ClusterSpec(nodes=3))          # create if absent, start, init Ganeti
    vc.run("node1", "gnt-node", "list").stdout
    vc.status()["nodes"]
    vc.down()

Progress of long operations goes to a callback (the CLI prints it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from . import control, enter, ganeti, layout, lifecycle
from .errors import (ClusterNotUp, EnvironmentUnsupported, InvalidInput,
                     OperationFailed, VclusterError)
from .layout import ClusterPaths
from .namespaces import probe_user_namespaces
from .pidfile import PidFile
from .shims.common import BASE_PATH, search_path
from .spec import ClusterSpec, check_label

Progress = Callable[[str], None]
BOOT_TIMEOUT = 300.0
STATUS_KEYS = {"cluster", "ganeti_cluster", "cluster_ip", "network", "master", "nodes"}
MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the terminating NUL
STOP_TIMEOUT = 120.0
# vcluster_ns.boot names the cluster's UTS namespace vcluster-<name>; a host
# name has at most 64 bytes (sethostname fails with EINVAL beyond).
MAX_HOSTNAME = 64
HOSTNAME_PREFIX = "vcluster-"


def owner(method):
    """Run ``method`` holding the cluster's lock (see lifecycle.py)."""
    import functools

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self.owned():
            return method(self, *args, **kwargs)
    return locked


def default_root() -> Path:
    # The XDG spec: a relative XDG_DATA_HOME is invalid and must be ignored.
    base = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "vcluster-ns"


def root_option(root: str | None) -> Path | None:
    """``--root`` as given (None: the default); an empty one is refused, not
    taken silently for the default."""
    if root is None:
        return None
    if root == "":
        raise InvalidInput("--root is empty",
                           "give a directory, or leave --root out for the default")
    return Path(root)


def check_ganeti_installed(spec: ClusterSpec) -> None:
    """The Ganeti installations ``spec`` names exist and are complete."""
    from .ganeti import install
    install.for_spec(spec)  # raises what is missing or wrong


def preflight(spec: ClusterSpec, require_ganeti: bool = True) -> None:
    """What must hold before anything is created (doctor's fast checks too)."""
    if require_ganeti or spec.ganeti or spec.ganeti_extra:
        check_ganeti_installed(spec)
    probe_user_namespaces()
    from . import doctor  # imported here: every CLI call would pay for it
    doctor.require(spec.nodes)


class VirtualCluster:
    def __init__(self, name: str = "default", root: Path | None = None,
                 progress: Progress = lambda msg: None):
        self.name = check_label("cluster name", name)
        if len(os.fsencode(HOSTNAME_PREFIX + name)) > MAX_HOSTNAME:
            raise InvalidInput(
                f"cluster name {name!r} is too long ({len(name)} characters): the cluster's "
                f"host name {HOSTNAME_PREFIX}{name} would exceed {MAX_HOSTNAME} bytes",
                f"use at most {MAX_HOSTNAME - len(HOSTNAME_PREFIX)} characters")
        self.root = layout.check_root(Path(root) if root else default_root())
        self.paths = ClusterPaths(self.root / name)
        self.progress = progress
        self.timings: dict[str, float] = {}
        self._lock = lifecycle.ClusterLock(self.root, name)
        self._init_wanted = True
        if len(os.fsencode(self.paths.control_socket)) > MAX_SOCKET_PATH:
            raise InvalidInput(
                f"cluster directory {self.paths.dir} is too long for a unix socket path",
                f"use a --root shorter than {MAX_SOCKET_PATH - 20} characters")

    def check_socket_paths(self, spec: ClusterSpec) -> None:
        """Ganeti's daemons make unix sockets below each node's root: a long
        --root would only fail later, inside gnt-cluster init."""
        longest = max(spec.node_names, key=len)
        path = self.paths.node_root(longest) / ganeti.LONGEST_SOCKET
        excess = len(os.fsencode(path)) - MAX_SOCKET_PATH
        if excess > 0:
            room = len(os.fsencode(self.root)) - excess
            raise InvalidInput(
                f"cluster directory {self.paths.dir} is too long for Ganeti's unix sockets "
                f"({path} has {len(os.fsencode(path))} bytes, at most {MAX_SOCKET_PATH})",
                f"use a --root of at most {max(room, 1)} characters, or shorter names")

    # -- state -------------------------------------------------------------
    def exists(self) -> bool:
        return self.paths.spec_file.exists()

    def spec(self) -> ClusterSpec:
        if not self.exists():
            raise ClusterNotUp(f"no cluster named {self.name!r} in {self.root}",
                               "create it with 'vcluster-ns up'")
        return ClusterSpec.load(self.paths.spec_file)

    def pid1(self) -> int | None:
        return PidFile(self.paths.pid_file).live_pid()

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
        spec = spec or self.spec()
        return install.resolve(spec.ganeti)

    @property
    def nodes(self) -> list[str]:
        """Node names (also their directory names)."""
        return self.spec().node_names

    @property
    def master(self) -> str:
        """The current Ganeti master (the first node until Ganeti says otherwise)."""
        spec = self.spec()
        return ganeti.master_of(self.paths.node_root(spec.master_node)) or spec.master_node

    # -- create / up -------------------------------------------------------
    def create(self, spec: ClusterSpec) -> None:
        """Made in ``.<name>.creating`` and renamed into place when whole:
        an ``up`` killed halfway leaves no directory that looks like a
        cluster, and the next ``up`` (holding the lock, so nobody else is
        creating it) clears the leftover."""
        import shutil
        node_defaults = {n: ganeti.daemon_args(spec, n) for n in spec.node_names}
        self.root.mkdir(parents=True, exist_ok=True)
        if self.paths.dir.exists():
            raise OperationFailed(f"{self.paths.dir} already exists",
                                  "it is not a cluster (no cluster.json): move it away")
        staging = ClusterPaths(self.root / f".{self.name}.creating")
        if staging.dir.exists():
            layout.remove_cluster_tree(staging)
        try:
            layout.create_cluster_tree(
                staging, spec, users=ganeti.USERS, groups=ganeti.GROUPS,
                node_defaults=node_defaults, os_definitions=ganeti.os_definitions_dir())
        except OperationFailed as exc:  # name the directory the user knows
            raise OperationFailed(exc.message.replace(str(staging.dir), str(self.paths.dir)),
                                  exc.hint) from None
        try:
            os.rename(staging.dir, self.paths.dir)
        except OSError as exc:
            shutil.rmtree(staging.dir, ignore_errors=True)
            raise OperationFailed(f"cannot create {self.paths.dir}: {exc.strerror}") from None

    @owner
    def up(self, spec: ClusterSpec | None = None, given: set[str] = frozenset(),
           init: bool = True) -> bool:
        """Bring the cluster up; False if it already was, complete.

        ``given`` names the spec fields the user set explicitly (checked
        against an existing cluster).  A cluster that runs but is
        incomplete (see ``missing``) is finished: init, node adds, daemons.
        """
        created = not self.exists()
        running = False
        if not created:
            existing = self.spec()
            if spec is not None:
                differ = spec.differences(existing, set(given))
                if differ:
                    fields = ", ".join(f"{f} (is {getattr(existing, f)!r})" for f in differ)
                    raise InvalidInput(
                        f"cluster {self.name!r} already exists with a different {fields}",
                        "use --cluster OTHER for a new one, or 'vcluster-ns destroy' first")
            spec = existing
            running = self.is_up()
            if not running and not os.access(self.paths.dir, os.W_OK | os.X_OK):
                raise InvalidInput(f"cluster directory {self.paths.dir} is not writable",
                                   "fix its permissions, or use another --root")
        else:
            spec = spec or ClusterSpec(name=self.name)
        self._init_wanted = init
        if running:
            self.wait_booted()
            missing = self.missing(spec, init)
            if not missing:
                return False
            # Perhaps it was brought up with --no-init.  (Not doctor's resource
            # checks: the running cluster holds its share already.)
            check_ganeti_installed(spec)
            self.check_socket_paths(spec)
            self.progress(f"cluster {self.name!r} is up but incomplete "
                          f"({'; '.join(missing)}): finishing it")
        else:
            preflight(spec, require_ganeti=init)
            if init:  # with --no-init no Ganeti daemon makes a socket
                self.check_socket_paths(spec)
            if created:
                if init and spec.ganeti_version is None:
                    spec = dataclasses.replace(spec,
                                               ganeti_version=self.installation(spec).version)
                self.progress(f"creating cluster {self.name!r} in {self.paths.dir}")
                self.create(spec)
            # Whatever an interrupted 'up' left booting has no supervisor.pid
            # yet: it would be a second cluster on this directory.
            lifecycle.kill_strays(self.name, self.paths.dir)
            lifecycle.set_phase(self.paths.dir, lifecycle.BOOTING, init=int(init))
            with self.phase("namespaces+daemons"):
                self.start_supervisor()
        try:
            if init:
                if running:
                    self.start_missing_daemons(spec)
                from .ganeti.bootstrap import Bootstrap
                Bootstrap(self, self.installation(spec)).run(spec)
        finally:
            self.settle()
        lifecycle.set_phase(self.paths.dir, lifecycle.UP, init=int(init))
        return True

    def _recorded_init(self) -> bool | None:
        """Did the last 'up' want Ganeti initialised (None: not recorded)?"""
        record = lifecycle.read_phase(self.paths.dir)
        if record is None or "init" not in record[2]:
            return None
        return record[2]["init"] == "1"

    def missing(self, spec: ClusterSpec, init: bool | None = None,
                status: dict | None = None) -> list[str]:
        """What a running cluster lacks to be complete, in words (empty: nothing).

        ``init``: must Ganeti be initialised (default: as the last 'up' wanted,
        or as the master shows)."""
        master_root = self.paths.node_root(spec.master_node)
        if init is None:
            init = self._recorded_init()
            if init is None:
                init = ganeti.is_initialised(master_root)
        if not init:
            return []
        if not ganeti.is_initialised(master_root):
            return ["Ganeti is not initialised"]
        status = status or self.call({"op": "status"})
        what = []
        not_joined = [n["name"] for n in status["nodes"] if n["role"] == "not-joined"]
        if not_joined:
            what.append(f"{len(not_joined)} node(s) not joined: {_some(not_joined)}")
        lacking = self._nodes_missing_daemons(status)
        if lacking:
            what.append("daemons not running on " + _some(
                [f"{node} ({', '.join(d.removeprefix('ganeti-') for d in ds)})"
                 for node, ds in lacking.items()]))
        return what

    def _nodes_missing_daemons(self, status: dict) -> dict[str, list[str]]:
        """Joined nodes (not stopped on purpose) whose daemons were never
        started, or stopped or gave up, without anybody asking."""
        installation = None
        with contextlib.suppress(Exception):
            installation = self.installation()
        available = set(ganeti.available_daemons(installation))
        lacking = {}
        for node in status["nodes"]:
            if node["role"] in (None, "not-joined", "offline") or node["stopped"]:
                continue
            root = self.paths.node_root(node["name"])
            if not ganeti.is_initialised(root):
                continue
            alive = {d["daemon"] for d in node["daemons"]
                     if d["state"] not in ("stopped", "failed")}
            absent = [d for d in ganeti.daemons_for(root, node["name"])
                      if d in available and d not in alive]
            if absent:
                lacking[node["name"]] = absent
        return lacking

    def start_missing_daemons(self, spec: ClusterSpec) -> None:
        lacking = self._nodes_missing_daemons(self.call({"op": "status"}))
        if lacking:
            self.progress(f"starting the missing daemons of {len(lacking)} node(s)")
            self.call({"op": "nodes-start", "nodes": list(lacking)}, timeout=BOOT_TIMEOUT)

    @contextlib.contextmanager
    def owned(self):
        """Hold the cluster's lock (again, if this object holds it already)."""
        if self._lock.held:
            yield
            return

        def waiting(pid):
            who = f"pid {pid}" if pid else "another command"
            self.progress(f"waiting for {who}, which is changing cluster {self.name!r}")

        self._lock.acquire(on_wait=waiting)
        try:
            yield
        finally:
            self._lock.release()

    def state(self) -> tuple[str, list[str]]:
        """The lifecycle state (lifecycle.STATES) and, when incomplete, what is missing."""
        if not self.exists():
            return lifecycle.ABSENT, []
        record = lifecycle.read_phase(self.paths.dir)
        if (record and record[0] in lifecycle.PHASES
                and self._lock.holder() not in (None, os.getpid())):
            return record[0], []
        if not self.is_up():
            started = record is not None or ganeti.is_initialised(
                self.paths.node_root(self.spec().master_node))
            return (lifecycle.DOWN if started else lifecycle.CREATED), []
        try:
            missing = self.missing(self.spec())
        except VclusterError:
            return lifecycle.UP, []  # status() reports the supervisor's trouble
        return (lifecycle.INCOMPLETE if missing else lifecycle.UP), missing

    def settle(self) -> None:
        """Tell the supervisor ``up`` is over (its watcher schedule starts);
        after a failed bring-up too, whatever state it left."""
        with contextlib.suppress(VclusterError):
            self.call({"op": "settled"})

    @contextlib.contextmanager
    def phase(self, name: str):
        """Record how long a phase of the last ``up`` took (``self.timings``)."""
        start = time.monotonic()
        lifecycle_phase = {"gnt-cluster init": lifecycle.INITIALISING,
                           "node adds": lifecycle.JOINING}.get(name)
        if lifecycle_phase and self._lock.held:
            lifecycle.set_phase(self.paths.dir, lifecycle_phase, init=int(self._init_wanted))
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.monotonic() - start

    def start_supervisor(self) -> None:
        self.progress("starting namespaces and supervisor")
        spec = self.spec()
        from .shims import write_shims
        write_shims(self.paths.shims, self.paths.dir)
        layout.ensure_runtime_files(self.paths)
        self.prepare_version_links(spec)
        layout.write_helper_scripts(self.paths, spec, [sys.executable, "-m", "vcluster_ns.entry"])
        for stale in (self.paths.pid_file, self.paths.control_socket):
            if stale.exists() or stale.is_symlink():
                stale.unlink()
        with open(self.paths.supervisor_log, "ab") as logfile:
            launcher = subprocess.Popen(
                [sys.executable, "-m", "vcluster_ns.boot", str(self.paths.dir)],
                env={**os.environ, "PATH": search_path()}, stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True, cwd="/")
        deadline = time.monotonic() + BOOT_TIMEOUT
        log_start = self.paths.supervisor_log.stat().st_size
        while True:
            code = launcher.poll()
            if code is not None:
                detail = self._log_since(log_start) or f"status {code}"
                cls = {4: EnvironmentUnsupported, 2: InvalidInput}.get(code, OperationFailed)
                raise cls(f"the cluster failed to start: {detail}",
                          f"see {self.paths.supervisor_log}")
            if self.booted():
                break
            if time.monotonic() > deadline:
                self._stop_launcher(launcher)
                raise OperationFailed(f"the cluster did not start within {BOOT_TIMEOUT:.0f}s",
                                      f"see {self.paths.supervisor_log}")
            time.sleep(0.05)
        # The launcher lives on as the cluster's keeper; we do not wait for it.
        launcher.returncode = 0  # silence "still running" warnings at exit

    def prepare_version_links(self, spec: ClusterSpec) -> None:
        from .ganeti import install
        try:
            default = self.installation(spec)
        except VclusterError:
            if spec.ganeti:  # checked by preflight; gone since?
                raise
            default = None  # --no-init without Ganeti
        install.prepare_version_links(self.paths.etc_upper,
                                      [self.paths.node_root(n) for n in spec.node_names],
                                      default)
        install.link_host_os_definitions(self.paths.os_dir, default)

    def booted(self) -> bool:
        """Has the supervisor prepared every node (and started joined ones)?"""
        if not self.paths.control_socket.exists():
            return False
        try:
            return bool(control.request(self.paths.control_socket, {"op": "ping"}, 10)
                        .get("booted"))
        except VclusterError:
            return False

    def wait_booted(self) -> None:
        """For a cluster an interrupted 'up' started: its supervisor may still boot."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        while not self.booted():
            if self.pid1() is None:
                raise ClusterNotUp(f"cluster {self.name!r} ended while it booted",
                                   f"see {self.paths.supervisor_log}; 'vcluster-ns up' again")
            if time.monotonic() > deadline:
                raise OperationFailed(f"the cluster did not boot within {BOOT_TIMEOUT:.0f}s",
                                      f"see {self.paths.supervisor_log}")
            time.sleep(0.05)

    def _stop_launcher(self, launcher: subprocess.Popen) -> None:
        pid = self.pid1()
        if pid:
            os.kill(pid, signal.SIGKILL)
        launcher.kill()
        launcher.wait()

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.paths.supervisor_log, "rb") as fh:
                fh.seek(offset)
                lines = fh.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return ""
        errors = [line for line in lines if "error" in line.lower()]
        return (errors or lines or [""])[-1].split("] ", 1)[-1]

    # -- commands ----------------------------------------------------------
    def node_env(self, node: str | None, base: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in (base if base is not None else os.environ).items()
               if not k.startswith(("VIRTUAL_ENV", "PYTHON", "GANETI_"))}
        env.update(PATH=BASE_PATH, HOME="/root", TMPDIR=str(self.paths.dir / "tmp"))
        env.setdefault("LANG", "C.UTF-8")
        if node is not None:
            env.update(ganeti.node_env(self.paths.dir, node))
        return env

    def resolve_node(self, node: str) -> str:
        """A node's full name; ``master`` is whichever node is master now."""
        if node == "master":
            return self.master
        return self.spec().resolve_node(node)

    def not_master_hint(self, node: str, argv: list[str], code: int) -> str | None:
        """One line for a Ganeti command that failed on a node that is not the
        master (Ganeti answers "This is not the master node" there)."""
        if code == 0 or node == "master" or not os.path.basename(argv[0]).startswith("gnt-"):
            return None
        try:
            full, master = self.resolve_node(node), self.master
        except VclusterError:
            return None
        if full == master:
            return None
        return (f"hint: {full.split('.')[0]} is not the master; 'vcluster-ns run master "
                f"{' '.join(argv)}' runs it on the master, whichever node that is")

    def _target(self, node: str | None) -> tuple[int, enter.NodeNamespaces, str | None]:
        spec = self.spec()
        full = None if node is None else self.resolve_node(node)
        pid1 = self.require_up()
        if full is None:
            return pid1, [], None
        try:
            anchor = int(self.paths.node_anchor_file(full).read_text())
        except (OSError, ValueError):
            raise ClusterNotUp(f"node {full} has no namespaces (the cluster is starting or broken)",
                               "try 'vcluster-ns down' and 'vcluster-ns up'") from None
        return pid1, enter.node_namespaces_from_host(pid1, anchor, spec.isolated), full

    def run(self, node: str | None, *argv: str, capture: bool = True, check: bool = False,
            input: str | None = None, timeout: float | None = None) -> subprocess.CompletedProcess:
        """Run ``argv`` on ``node`` (None: the cluster without a node identity).

        Like ``subprocess.run``: output captured as text unless ``capture`` is
        False; ``check`` raises ``subprocess.CalledProcessError`` on failure.
        """
        argv = list(argv)
        if not argv:
            raise InvalidInput("no command to run", "give a program and its arguments")
        self._target(node)  # unknown node or cluster down: fail before making pipes
        fds = {}
        pipes = []
        if capture:
            for name in ("stdout", "stderr"):
                r, w = os.pipe()
                fds[name] = w
                pipes.append(r)
        if input is not None:
            r, w = os.pipe()
            fds["stdin"] = r
        else:
            fds["stdin"] = os.open(os.devnull, os.O_RDONLY) if capture else None
        bridge = self._spawn(node, argv, stdin=fds.get("stdin"), stdout=fds.get("stdout"),
                             stderr=fds.get("stderr"))
        for fd in fds.values():
            if fd is not None:
                os.close(fd)
        if input is not None:
            with os.fdopen(w, "w") as fh:
                fh.write(input)
        out = err = ""
        if capture:
            out, err = _read_two(pipes[0], pipes[1], timeout)
        code = enter.wait_exit_code(bridge)
        if check and code != 0:
            raise subprocess.CalledProcessError(code, argv, out, err)
        return subprocess.CompletedProcess(argv, code, out, err)

    def _spawn(self, node: str | None, argv: list[str], **fds) -> int:
        """Start ``argv`` on ``node``; returns the bridge pid to wait for."""
        pid1, node_ns, full = self._target(node)
        return enter.spawn(pid1, node_ns, argv, self.node_env(full), "/root", **fds)

    def run_foreground(self, node: str | None, argv: list[str], cwd: str | None = None) -> int:
        pid1, node_ns, full = self._target(node)
        return enter.run_foreground(pid1, node_ns, argv, self.node_env(full), cwd)

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
        if not daemon.startswith("ganeti-"):
            daemon = "ganeti-" + daemon
        self.call({"op": "kill", "node": full, "daemon": daemon})
        return full, daemon

    @owner
    def net(self, action: str, nodes: list[str] = (), value: str | None = None) -> dict:
        """A network fault (see faults.py): partition, heal, down, up, delay, loss.

        Returns the faults in force afterwards.
        """
        from .faults import check_delay, check_loss
        spec = self.spec()
        full = [spec.resolve_node(n) for n in nodes]
        if action == "delay":
            check_delay(value)
        elif action == "loss":
            check_loss(value)
        message = {"op": "net", "action": action, "nodes": full}
        if value is not None:
            message["value"] = value
        return self.call(message)["faults"]

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
        if was_up and not stop:
            raise InvalidInput(f"cluster {self.name!r} is up",
                               "run 'vcluster-ns down' first, or pass --stop to down it, "
                               "snapshot it and bring it back up")
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

        An existing cluster is replaced only with ``reset`` and only while it
        is down.  ``spec``/``given``: what the user asked for; fields other
        than the host-side ones (snapshot.OVERRIDABLE) must match the snapshot's.
        """
        from . import snapshot as snapshots
        info, saved = snapshots.load(self.root, name)
        target = snapshots.restored_spec(saved, self.name, spec, given)
        if self.paths.dir.exists():
            if self.is_up():
                raise InvalidInput(f"cluster {self.name!r} is up",
                                   "run 'vcluster-ns down' first, then --reset replaces it")
            if not reset:
                raise InvalidInput(f"cluster {self.name!r} already exists",
                                   "pass --reset to replace it with the snapshot, "
                                   "or use --cluster OTHER")
        preflight(target, require_ganeti=init)
        if init:  # a longer name or --root than the original's may not fit
            self.check_socket_paths(target)
        self.progress(f"restoring snapshot {name!r} into {self.paths.dir}")
        with self.phase("restore"):
            snapshots.restore(self.root, name, info, target, self.paths)
        return self.up(init=init)

    # -- status / down / destroy -------------------------------------------
    def status(self) -> dict:
        """``state``: down, up, incomplete (``missing`` says what), or the
        phase a command is in (booting, initialising, joining, stopping);
        ``lifecycle``: the same, with created for a cluster never started."""
        spec = self.spec()
        from .ganeti import install
        ganeti_info = install.status(spec, {n: self.paths.node_root(n) for n in spec.node_names})
        state, lacking = self.state()
        if not self.is_up():
            shown = state if state in lifecycle.PHASES else lifecycle.DOWN
            return {"cluster": self.name, "state": shown, "lifecycle": state,
                    "directory": str(self.paths.dir), "ganeti": ganeti_info,
                    "nodes": [{"name": n, "address": str(ip), **node_resources(spec, n)}
                              for n, ip in spec.node_ips.items()]}
        answer = self.call({"op": "status"})
        answer.pop("ok", None)
        missing = STATUS_KEYS - answer.keys()
        if missing or not isinstance(answer.get("nodes"), list):
            raise OperationFailed(
                f"the supervisor at {self.paths.control_socket} answered garbage "
                f"(status without {', '.join(sorted(missing)) or 'a node list'})",
                "see supervisor.log in the cluster directory; 'vcluster-ns down' and 'up' again")
        for node in answer["nodes"]:
            if isinstance(node, dict) and node.get("name") in spec.node_names:
                node.update(node_resources(spec, node["name"]))
        info = {"state": state, "lifecycle": state, "directory": str(self.paths.dir),
                "pid": self.pid1(), "ganeti": ganeti_info, **answer}
        if state == lifecycle.INCOMPLETE:
            info["missing"] = lacking
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
            self._remove_stale()
            return bool(strays)
        with contextlib.suppress(OSError):  # a read-only directory can still go down
            lifecycle.set_phase(self.paths.dir, lifecycle.STOPPING)
        self.progress("stopping every daemon")
        try:
            answer = control.call(self.paths.control_socket, {"op": "shutdown"}, 30)
            acknowledged = answer.get("stopping") is True
        except VclusterError:
            acknowledged = False
        if not acknowledged:
            # No supervisor that understood us: pid 1 forwards SIGTERM to it.
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while self.pid1() == pid and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.pid1() == pid:
            self.progress("supervisor did not stop in time: killing the cluster")
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + STOP_TIMEOUT
            while self.pid1() == pid and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.pid1() == pid:
                raise OperationFailed(f"cluster pid {pid} survived SIGKILL",
                                      "is it stopped (SIGSTOP) or traced?")
        # A second cluster on this directory, started by an 'up' that lost a
        # race (before clusters had a lock), has no supervisor.pid: find it.
        lifecycle.kill_strays(self.name, self.paths.dir)
        self._remove_stale()
        with contextlib.suppress(OSError):
            lifecycle.set_phase(self.paths.dir, lifecycle.DOWN)
        return True

    def _remove_stale(self) -> None:
        for stale in (self.paths.pid_file, self.paths.control_socket):
            try:
                stale.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass  # an unwritable directory: a stale pid file is recognised as such

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
        import io
        import json
        import tarfile

        spec = self.spec()
        if not directory.is_dir():
            raise InvalidInput(f"{directory} is not a directory", "give an existing directory")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        archive = directory / f"vcluster-ns-logs-{self.name}-{stamp}.tar.gz"
        base = f"vcluster-ns-logs-{self.name}-{stamp}"
        status = json.dumps(self.status(), indent=2).encode()
        try:
            with tarfile.open(archive, "w:gz") as tar:
                info = tarfile.TarInfo(f"{base}/status.json")
                info.size, info.mtime = len(status), time.time()
                tar.addfile(info, io.BytesIO(status))
                for path in (self.paths.supervisor_log, self.paths.console_log,
                             self.paths.spec_file):
                    if path.exists():
                        tar.add(path, f"{base}/{path.name}")
                for node in spec.node_names:
                    for source, name in ((self.paths.node_log_dir(node), "daemons"),
                                         (self.paths.node_root(node) / "var/log/ganeti",
                                          "ganeti")):
                        if source.is_dir():
                            tar.add(source, f"{base}/{node}/{name}")
        except OSError as exc:
            archive.unlink(missing_ok=True)
            raise OperationFailed(f"cannot write {archive}: {exc.strerror or exc}") from None
        return archive

    def logs(self, node: str, daemon: str | None = None) -> list[Path]:
        spec = self.spec()
        full = spec.resolve_node(node)
        files = sorted(self.paths.node_log_dir(full).glob("*.log"))
        ganeti_logs = sorted((self.paths.node_root(full) / "var/log/ganeti").glob("*.log"))
        if daemon:
            name = "ganeti-" + daemon.removeprefix("ganeti-")
            if name not in ganeti.ALL_DAEMONS:
                raise InvalidInput(f"unknown daemon {daemon!r}", "daemons: " + ", ".join(
                    d.removeprefix("ganeti-") for d in ganeti.ALL_DAEMONS))
            # Its output as the supervisor caught it, then Ganeti's own log.
            files = [self.paths.node_log_dir(full) / f"{name}.log",
                     *ganeti.log_files(self.paths.node_root(full), name)]
            found = [f for f in files if f.is_file()]
            if not found:
                raise InvalidInput(f"no logs for {name} on {full} yet",
                                   f"it has not run there; see 'vcluster-ns status'")
            return found
        return files + ganeti_logs


def _some(names: list[str], most: int = 5) -> str:
    """A list for one line: the first few, then how many more."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def node_resources(spec: ClusterSpec, node: str) -> dict:
    """A node's group and configured figures for ``status`` (None: the host's)."""
    settings = spec.settings_of(node)
    return {"group": spec.group_of(node), "memory_mib": settings.get("memory"),
            "cpus": settings.get("cpus"), "disk_mib": settings.get("disk")}


def _read_two(fd_out: int, fd_err: int, timeout: float | None) -> tuple[str, str]:
    """Drain two pipes concurrently (a full pipe would block the child)."""
    import selectors

    chunks = {fd_out: [], fd_err: []}
    with selectors.DefaultSelector() as sel:
        for fd in chunks:
            sel.register(fd, selectors.EVENT_READ)
        deadline = None if timeout is None else time.monotonic() + timeout
        while sel.get_map():
            wait = None if deadline is None else max(0, deadline - time.monotonic())
            events = sel.select(wait)
            if not events and deadline is not None and time.monotonic() >= deadline:
                break
            for key, _ in events:
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    sel.unregister(key.fd)
    for fd in chunks:
        os.close(fd)
    return tuple(b"".join(chunks[fd]).decode(errors="replace") for fd in (fd_out, fd_err))
