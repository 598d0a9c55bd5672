"""The two long-lived waiting processes of a cluster, kept small.

Once a cluster is set up, the launcher and pid 1 only wait: pid 1 reaps
orphans and forwards signals to the service, the launcher waits for pid 1
and cleans up after it.  Setting up needed pyroute2 and the rest of
vcluster_ns (about 30 MB resident); waiting needs none of it.  So both exec
this file with ``python -S`` (no site-packages scan) and keep only the
standard library and prctl (for the process title): about 10 MB each.

exec keeps the pid, the children and the namespaces, so nothing else
notices.  While the exec runs, a SIGTERM to pid 1 is not lost: pid 1 of a
namespace ignores signals it has no handler for, and ``down`` asks the
supervisor through the control socket anyway.

Usage (by boot.py only)::

    python -S reaper.py SITE_DIR init TITLE SERVICE_PID
    python -S reaper.py SITE_DIR launcher TITLE INIT_PID PID_FILE SOCKET NAME
"""

from __future__ import annotations

import os
import signal
import sys


def log(message: str) -> None:
    print(f"[boot {os.getpid()}] {message}", flush=True)


def command(site_dir: str, role: str, title: str, *args: str) -> list[str]:
    """The argv that turns the calling process into ``role``."""
    return [sys.executable, "-S", os.path.abspath(__file__), site_dir, role, title, *args]


def exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def reap(service: int) -> int:
    """pid 1: reap every child; end with the service's status."""
    def forward(signum, frame):
        try:
            os.kill(service, signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 1
        if pid == service:
            code = exit_code(status)
            log(f"service exited with {code}; ending the cluster")
            return code


def wait_for_init(init: int, pid_file: str, socket: str, name: str) -> int:
    """The launcher: wait for pid 1, then remove what only a live cluster has."""
    from vcluster_ns.pidfile import PidFile  # stdlib only
    from pathlib import Path

    while True:
        try:
            _, status = os.waitpid(init, 0)
            break
        except InterruptedError:
            continue
    PidFile(Path(pid_file)).remove_if(init)
    try:
        os.unlink(socket)
    except FileNotFoundError:
        pass
    code = exit_code(status)
    log(f"cluster {name} ended (status {code})")
    return 0 if code == 0 else 1


def main(argv: list[str]) -> int:
    site_dir, role, title, *args = argv[1:]
    # prctl lives in site-packages, vcluster_ns in the parent of this file's
    # directory; the directory itself (sys.path[0]) would let our module
    # names shadow the standard library's.
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:1] = [site_dir, package_parent]
    import prctl
    prctl.set_proctitle(title)
    if role == "init":
        return reap(int(args[0]))
    if role == "launcher":
        init, pid_file, socket, name = args
        return wait_for_init(int(init), pid_file, socket, name)
    raise SystemExit(f"reaper: unknown role {role!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
