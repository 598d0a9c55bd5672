"""The link keeper: a joining slice's transport to the master's slice.

The launcher forks it before it leaves the host's network namespace
(``start_keeper``): it runs as the user, in the host's network namespace,
so ssh works as it does for the user, and dies with the launcher
(PR_SET_PDEATHSIG), so with the cluster.  It runs ``ssh HOST vcluster-ns
link-plug``, hands its end of the stream to the supervisor inside (which
plugs it into the switch, linkserve.py), and when the transport ends starts
another after 1 s, doubling to 30 s, forever: a cable that comes back.  Its
state is ``<cluster>/link-state.json`` (``status``), its log
``<cluster>/logs/link.log``.  No trio here.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

from .slices import hand_over, ssh_argv, write_state
from .spec import ClusterSpec

# Backoff between transports (seconds): doubling from 1 to 30.
BACKOFF_INITIAL, BACKOFF_CAP = 1.0, 30.0
# A transport that ran this long resets the backoff.
STEADY_AFTER = 30.0


def start_keeper(spec: ClusterSpec, paths) -> int | None:
    """Fork the link keeper (the launcher calls this while still in the
    host's namespaces); returns its pid, None if the slice joins nobody."""
    if not spec.joins:
        return None
    import prctl
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        prctl.set_pdeathsig(signal.SIGKILL)
        prctl.set_proctitle(f"vcluster-ns link-keeper {spec.name} {paths.dir}")
        os.setsid()
        keep_link(spec, paths.link_socket, paths.link_state, paths.link_log)
    except BaseException:  # noqa: BLE001 - a child must never unwind into the launcher
        import traceback
        traceback.print_exc()
    finally:
        os._exit(code)


def keep_link(spec: ClusterSpec, link_socket: Path, state_file: Path,
              log_file: Path) -> None:
    """Run the transport to the master's slice for as long as the cluster
    lives, restarting it with backoff (never giving up: a cable comes back).
    Runs as the user in the host's network namespace; dies with the
    launcher (PR_SET_PDEATHSIG, set by the caller)."""
    import prctl
    hub = "1"  # the master's slice, whatever its end
    argv = ssh_argv(spec, "link-plug", "--slice", spec.slice)
    failures, restarts = 0, 0
    log = open(log_file, "ab", buffering=0)

    def note(state: str, error: str | None = None) -> None:
        write_state(state_file, {"state": state, "since": time.time(), "restarts": restarts,
                                 "last_error": error, "transport": shlex.join(argv)})
        log.write(f"{time.strftime('%H:%M:%S')} [link] {state}"
                  f"{': ' + error if error else ''}\n".encode())

    while True:
        note("connecting")
        ours, theirs = socket.socketpair()
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdin=ours, stdout=ours, stderr=log,
                                preexec_fn=lambda: prctl.set_pdeathsig(signal.SIGKILL))
        ours.close()
        error = None
        try:
            conn = hand_over(link_socket, hub, theirs.fileno(), theirs.fileno(), wait=120)
        except OSError as exc:
            conn, error = None, f"the supervisor's link socket: {exc}"
            proc.kill()
        theirs.close()
        if conn is not None:
            note("up")
            wait_either(proc, conn)
            conn.close()
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        error = error or f"transport ended (ssh status {code})"
        ran = time.monotonic() - started
        failures = 1 if ran > STEADY_AFTER else failures + 1
        restarts += 1
        delay = min(BACKOFF_CAP, BACKOFF_INITIAL * 2 ** (failures - 1))
        note("backoff", f"{error}; again in {delay:.0f}s")
        time.sleep(delay)


def wait_either(proc: subprocess.Popen, conn: socket.socket) -> None:
    """Until the transport exits or the supervisor ends the plug."""
    import selectors
    pidfd = os.pidfd_open(proc.pid)
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(pidfd, selectors.EVENT_READ)
            sel.register(conn, selectors.EVENT_READ)
            while True:
                for key, _ in sel.select():
                    if key.fd == pidfd:
                        return
                    if not conn.recv(4096):
                        return
    finally:
        os.close(pidfd)
