"""Start a cluster's processes from the host, and end them.

``start`` writes what every start needs (shims, runtime files, version
links, helper scripts), starts ``python -m vcluster_ns.boot DIR`` detached
(the launcher; boot.py creates the namespaces and the supervisor) and
returns once the supervisor says it has booted: every node prepared, the
daemons of nodes that had joined started.  ``stop`` asks the supervisor to
shut down, then SIGTERM, then SIGKILL to the cluster's pid 1; when pid 1
dies the kernel ends every process of the cluster.

Both wait on conditions (the control socket answers, the pid is gone),
with deadlines; neither knows Ganeti beyond the paths it is handed.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from . import control, layout, nodes
from .errors import (ClusterNotUp, EnvironmentUnsupported, InvalidInput, OperationFailed,
                     VclusterError)
from .layout import ClusterPaths
from .pidfile import PidFile

BOOT_TIMEOUT = 300.0
STOP_TIMEOUT = 120.0
# How the cluster's shims and helper scripts call vcluster-ns: this
# interpreter, so that they find this installation whatever PATH says.
SELF = [sys.executable, "-m", "vcluster_ns.entry"]


def pid1(paths: ClusterPaths) -> int | None:
    """The host pid of the cluster's pid 1, if the cluster runs."""
    return PidFile(paths.pid_file).live_pid()


def booted(paths: ClusterPaths) -> bool:
    """Has the supervisor prepared every node (and started joined ones)?"""
    if not paths.control_socket.exists():
        return False
    try:
        return bool(control.request(paths.control_socket, {"op": "ping"}, 10).get("booted"))
    except VclusterError:
        return False


def raise_open_files() -> tuple[int, int]:
    """Raise this process's soft limit of open files to the hard one, so
    that the cluster (which inherits it) does not hit the customary soft
    1024 first: the supervisor holds a pidfd and a log per daemon and a
    listener per node, Ganeti's daemons a socket per RPC.  Only this
    process tree's own limit changes, nothing of the host's.  Returns
    (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:  # the kernel caps it at fs.nr_open
        try:
            target = int(Path("/proc/sys/fs/nr_open").read_text())
        except (OSError, ValueError):
            return soft, soft
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError):
            return soft, soft  # as it was: doctor says what to do
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def start(paths: ClusterPaths, prepare: Callable[[], None],
          progress: Callable[[str], None] = lambda m: None) -> None:
    """Start the cluster in ``paths`` and wait until it has booted.
    ``prepare()`` writes the files of the cluster's installation first."""
    progress("starting namespaces and supervisor")
    raise_open_files()
    prepare()
    remove_runtime_files(paths)
    with open(paths.supervisor_log, "ab") as logfile:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "vcluster_ns.boot", str(paths.dir)],
            env={**os.environ, "PATH": nodes.search_path()}, stdin=subprocess.DEVNULL,
            stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True,
            close_fds=True, cwd="/")
    deadline = time.monotonic() + BOOT_TIMEOUT
    log_start = paths.supervisor_log.stat().st_size
    while True:
        code = launcher.poll()
        if code is not None:
            detail = _log_since(paths.supervisor_log, log_start) or f"status {code}"
            cls = {4: EnvironmentUnsupported, 2: InvalidInput}.get(code, OperationFailed)
            raise cls(f"the cluster failed to start: {detail}", f"see {paths.supervisor_log}")
        if booted(paths):
            break
        if time.monotonic() > deadline:
            _kill(paths, launcher)
            raise OperationFailed(f"the cluster did not start within {BOOT_TIMEOUT:.0f}s",
                                  f"see {paths.supervisor_log}")
        time.sleep(0.05)
    # The launcher lives on as the cluster's keeper; we do not wait for it.
    launcher.returncode = 0  # silence "still running" warnings at exit


def wait_booted(paths: ClusterPaths, name: str) -> None:
    """For a cluster an interrupted ``up`` started: its supervisor may still boot."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while not booted(paths):
        if pid1(paths) is None:
            raise ClusterNotUp(f"cluster {name!r} ended while it booted",
                               f"see {paths.supervisor_log}; 'vcluster-ns up' again")
        if time.monotonic() > deadline:
            raise OperationFailed(f"the cluster did not boot within {BOOT_TIMEOUT:.0f}s",
                                  f"see {paths.supervisor_log}")
        time.sleep(0.05)


def stop(paths: ClusterPaths, pid: int, progress: Callable[[str], None] = lambda m: None) -> None:
    """End the cluster whose pid 1 is ``pid``: ask, then SIGTERM, then SIGKILL."""
    progress("stopping every daemon")
    try:
        answer = control.call(paths.control_socket, {"op": "shutdown"}, 30)
        acknowledged = answer.get("stopping") is True
    except VclusterError:
        acknowledged = False
    if not acknowledged:
        # No supervisor that understood us: pid 1 forwards SIGTERM to it.
        os.kill(pid, signal.SIGTERM)
    if not _gone(paths, pid, STOP_TIMEOUT):
        progress("supervisor did not stop in time: killing the cluster")
        os.kill(pid, signal.SIGKILL)
        if not _gone(paths, pid, STOP_TIMEOUT):
            raise OperationFailed(f"cluster pid {pid} survived SIGKILL",
                                  "is it stopped (SIGSTOP) or traced?")


def remove_runtime_files(paths: ClusterPaths) -> None:
    """supervisor.pid and control.sock of a cluster that no longer runs."""
    for stale in (paths.pid_file, paths.control_socket):
        try:
            stale.unlink()
        except OSError:
            pass  # gone already, or an unwritable directory: a stale pid file is recognised


def _gone(paths: ClusterPaths, pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid1(paths) == pid:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _kill(paths: ClusterPaths, launcher: subprocess.Popen) -> None:
    pid = pid1(paths)
    if pid:
        os.kill(pid, signal.SIGKILL)
    launcher.kill()
    launcher.wait()


def _log_since(log: Path, offset: int) -> str:
    """The supervisor's last error line written since ``offset`` (else its last line)."""
    try:
        with open(log, "rb") as fh:
            fh.seek(offset)
            lines = fh.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return ""
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or [""])[-1].split("] ", 1)[-1]


def write_start_files(paths: ClusterPaths, spec, hidden: list[str], daemon_util: str) -> None:
    """What every start rewrites: the shims, runtime files, helper scripts."""
    from .shims import write_shims
    write_shims(paths.shims, paths.dir)
    layout.ensure_runtime_files(paths, hidden)
    layout.write_helper_scripts(paths, spec, SELF, daemon_util)
