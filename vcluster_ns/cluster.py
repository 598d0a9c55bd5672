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

from . import control, enter, ganeti, layout
from .errors import (ClusterNotUp, EnvironmentUnsupported, InvalidInput,
                     OperationFailed, VclusterError)
from .layout import ClusterPaths
from .namespaces import probe_user_namespaces
from .pidfile import PidFile
from .shims.common import BASE_PATH
from .spec import ClusterSpec, check_label

Progress = Callable[[str], None]
BOOT_TIMEOUT = 300.0
STATUS_KEYS = {"cluster", "ganeti_cluster", "cluster_ip", "network", "master", "nodes"}
MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the terminating NUL
STOP_TIMEOUT = 120.0


def default_root() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "vcluster-ns"


def preflight(spec: ClusterSpec, require_ganeti: bool = True) -> None:
    """What must hold before anything is created (doctor's fast checks too)."""
    if require_ganeti or spec.ganeti or spec.ganeti_extra:
        from .ganeti import install
        install.for_spec(spec)  # raises what is missing or wrong
    probe_user_namespaces()
    from . import doctor  # imported here: every CLI call would pay for it
    doctor.require(spec.nodes)


class VirtualCluster:
    def __init__(self, name: str = "default", root: Path | None = None,
                 progress: Progress = lambda msg: None):
        self.name = check_label("cluster name", name)
        self.root = layout.check_root(Path(root) if root else default_root())
        self.paths = ClusterPaths(self.root / name)
        self.progress = progress
        self.timings: dict[str, float] = {}
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
        node_defaults = {n: ganeti.daemon_args(spec, n) for n in spec.node_names}
        self.root.mkdir(parents=True, exist_ok=True)
        layout.create_cluster_tree(
            self.paths, spec, users=ganeti.USERS, groups=ganeti.GROUPS,
            node_defaults=node_defaults, os_definitions=ganeti.os_definitions_dir())

    def up(self, spec: ClusterSpec | None = None, given: set[str] = frozenset(),
           init: bool = True) -> bool:
        """Bring the cluster up; False if it already was. ``given`` names the
        spec fields the user set explicitly (checked against an existing cluster)."""
        created = not self.exists()
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
            if self.is_up():
                return False
            if not os.access(self.paths.dir, os.W_OK | os.X_OK):
                raise InvalidInput(f"cluster directory {self.paths.dir} is not writable",
                                   "fix its permissions, or use another --root")
        else:
            spec = spec or ClusterSpec(name=self.name)
        preflight(spec, require_ganeti=init)
        if init:  # with --no-init no Ganeti daemon makes a socket
            self.check_socket_paths(spec)
        if created:
            if init and spec.ganeti_version is None:
                spec = dataclasses.replace(spec, ganeti_version=self.installation(spec).version)
            self.progress(f"creating cluster {self.name!r} in {self.paths.dir}")
            self.create(spec)
        with self.phase("namespaces+daemons"):
            self.start_supervisor()
        try:
            if init:
                from .ganeti.bootstrap import Bootstrap
                Bootstrap(self, self.installation(spec)).run(spec)
        finally:
            self.settle()
        return True

    def settle(self) -> None:
        """Tell the supervisor ``up`` is over (its watcher schedule starts);
        after a failed bring-up too, whatever state it left."""
        with contextlib.suppress(VclusterError):
            self.call({"op": "settled"})

    @contextlib.contextmanager
    def phase(self, name: str):
        """Record how long a phase of the last ``up`` took (``self.timings``)."""
        start = time.monotonic()
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
                stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT,
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
            if self.paths.control_socket.exists():
                try:
                    if control.request(self.paths.control_socket, {"op": "ping"}, 10).get("booted"):
                        break
                except VclusterError:
                    pass
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
        install.link_host_os_definitions(self.paths.os_dir)

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

    def _target(self, node: str | None) -> tuple[int, enter.NodeNamespaces, str | None]:
        spec = self.spec()
        full = None if node is None else spec.resolve_node(node)
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
    def stop_node(self, node: str) -> str:
        """Kill every daemon of ``node`` at once (a power loss); returns its name."""
        full = self.spec().resolve_node(node)
        self.call({"op": "node-stop", "node": full, "kill": True})
        return full

    def start_node(self, node: str) -> str:
        full = self.spec().resolve_node(node)
        self.call({"op": "node-start", "node": full}, timeout=BOOT_TIMEOUT)
        return full

    def kill_daemon(self, node: str, daemon: str) -> tuple[str, str]:
        """Crash one daemon with SIGKILL; the supervisor's restart policy applies."""
        full = self.spec().resolve_node(node)
        if not daemon.startswith("ganeti-"):
            daemon = "ganeti-" + daemon
        self.call({"op": "kill", "node": full, "daemon": daemon})
        return full, daemon

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
        spec = self.spec()
        from .ganeti import install
        ganeti_info = install.status(spec, {n: self.paths.node_root(n) for n in spec.node_names})
        if not self.is_up():
            return {"cluster": self.name, "state": "down", "directory": str(self.paths.dir),
                    "ganeti": ganeti_info,
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
        return {"state": "up", "directory": str(self.paths.dir), "pid": self.pid1(),
                "ganeti": ganeti_info, **answer}

    def down(self) -> bool:
        """Stop every daemon, end the namespaces; False if it was not up.

        Needs no readable cluster.json: a cluster whose spec is corrupted can
        still be stopped (and destroyed)."""
        if not self.exists():
            self.spec()  # raises "no cluster named ..."
        pid = self.pid1()
        if pid is None:
            self._remove_stale()
            return False
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
        self._remove_stale()
        return True

    def _remove_stale(self) -> None:
        for stale in (self.paths.pid_file, self.paths.control_socket):
            try:
                stale.unlink()
            except FileNotFoundError:
                pass

    def destroy(self) -> None:
        if not self.exists():
            self.spec()  # raises "no cluster named ..."
        self.down()
        layout.remove_cluster_tree(self.paths)

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
            short = daemon.removeprefix("ganeti-")
            files = [f for f in files + ganeti_logs if short in f.name]
            if not files:
                raise InvalidInput(f"no logs for {daemon!r} on {full}",
                                   f"daemons: {', '.join(ganeti.ALL_DAEMONS)}")
            return files
        return files + ganeti_logs


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
