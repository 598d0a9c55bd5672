"""Run a command inside a running cluster, as one of its nodes.

A command is started from the host by a short chain of processes::

    caller ── bridge: joins the cluster's user, net, uts, ipc, pid and mount
                namespaces, then the node's own (mount; in isolated mode
                also network and UTS)
                 └── command: forked by the bridge, so that it is inside the
                     cluster's pid namespace (setns(CLONE_NEWPID) applies to
                     children only); exec'd with the node's environment

Both children die with their parent (PR_SET_PDEATHSIG), so killing the
caller with SIGKILL leaves nothing running.  The bridge forwards SIGTERM and
SIGHUP and passes the command's exit status through.

``NodeCommands`` is the host side's way to run commands on a cluster's
nodes: like ``subprocess.run`` (``run``), started and waited for later
(``spawn``), or in the foreground with the caller's terminal
(``foreground``).  It knows the cluster's directory and how to find its
pid 1; what environment a node's process gets is handed in.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from . import namespaces as ns
from .errors import ClusterNotUp

FORWARDED = (signal.SIGTERM, signal.SIGHUP)
EXEC_FAILED = 127     # as a shell: no such command
NOT_EXECUTABLE = 126  # as a shell: found, but it cannot be executed
ENTER_FAILED = 126
TIMED_OUT = 124       # as timeout(1): stopped after overrunning its time
STOP_GRACE = 10.0     # seconds from SIGTERM to SIGKILL for such a command


NodeNamespaces = list[tuple[str, int]]  # (path of an ns file, its CLONE_ type)


def node_namespaces_from_host(pid1: int, anchor: int, isolated: bool) -> NodeNamespaces:
    """The node's namespace files, in the order the bridge joins them."""
    # Through pid 1's root, /proc is the cluster's own: the anchor's pid is
    # the one recorded inside the cluster's pid namespace.
    base = f"/proc/{pid1}/root/proc/{anchor}/ns"
    kinds = [("mnt", ns.CLONE_NEWNS)]
    if isolated:
        kinds += [("net", ns.CLONE_NEWNET), ("uts", ns.CLONE_NEWUTS)]
    return [(f"{base}/{name}", nstype) for name, nstype in kinds]


def spawn(pid1: int, node_ns: NodeNamespaces, argv: list[str], env: dict[str, str],
          cwd: str | None = None, stdin: int | None = None, stdout: int | None = None,
          stderr: int | None = None) -> int:
    """Start ``argv`` in the cluster; return the bridge's pid (wait on it)."""
    check_argv(argv, env)
    bridge = os.fork()
    if bridge != 0:
        return bridge
    # From here on this is a child: whatever happens it must end with
    # os._exit, never unwind into the caller's code (a copy of the caller
    # would go on running inside the cluster).
    code = ENTER_FAILED
    try:
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            if fd is not None:
                os.dup2(fd, target)
        ns.set_pdeathsig(signal.SIGKILL)
        # Opened before joining: the paths are the host's view.
        node_fds = [(os.open(path, os.O_RDONLY | os.O_CLOEXEC), nstype)
                    for path, nstype in node_ns]
        ns.join_namespaces(ns.open_namespaces(pid1))
        ns.join_namespaces(node_fds)
        code = _bridge(argv, env, cwd)
    except BaseException as exc:  # noqa: BLE001 - reported, then _exit
        try:
            os.write(2, f"vcluster-ns: cannot enter the cluster: {exc}\n".encode())
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def check_argv(argv: list[str], env: dict[str, str]) -> None:
    """Refuse, before forking, what exec would refuse after it."""
    from .errors import InvalidInput

    if not argv:
        raise InvalidInput("no command to run", "give a program and its arguments")
    for word in list(argv) + [f"{k}={v}" for k, v in env.items()]:
        if not isinstance(word, str) or "\0" in word:
            raise InvalidInput(f"invalid command word {word!r}",
                               "commands are strings without NUL bytes")


def _bridge(argv: list[str], env: dict[str, str], cwd: str | None) -> int:
    child = os.fork()
    if child == 0:
        try:
            ns.set_pdeathsig(signal.SIGKILL)
            try:
                os.chdir(cwd if cwd and os.path.isdir(cwd) else env.get("HOME", "/"))
            except OSError:
                os.chdir("/")
            os.execvpe(argv[0], argv, env)
        except BaseException as exc:  # noqa: BLE001 - never return into the caller
            reason = getattr(exc, "strerror", None) or exc
            code = EXEC_FAILED if isinstance(exc, FileNotFoundError) else NOT_EXECUTABLE
            try:
                os.write(2, f"vcluster-ns: {argv[0]}: {reason}\n".encode())
            finally:
                os._exit(code)

    def forward(signum, frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        signal.signal(sig, forward)
    # SIGINT from the terminal reaches the command directly (same process
    # group); forwarding it too would deliver it twice.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)
    return wait_exit_code(child)


def stop_overrunning(bridge: int) -> int:
    """End a command that overran its time, and whatever it started; returns
    TIMED_OUT.  SIGTERM to the bridge (which forwards it to the command) and
    to every descendant, then after STOP_GRACE seconds SIGKILL to those still
    there: a child the command left behind would otherwise live on in the
    cluster under its init."""
    tree = [bridge, *descendants(bridge)]
    for pid in tree:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while os.waitpid(bridge, os.WNOHANG)[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in [*descendants(bridge), *tree]:
        _signal(pid, signal.SIGKILL)
    try:
        os.waitpid(bridge, 0)
    except ChildProcessError:  # reaped above
        pass
    return TIMED_OUT


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (host pids), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def wait_exit_code(pid: int) -> int:
    """Wait for ``pid``; map death by signal N to 128+N, as shells do."""
    while True:
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status):
            return os.WEXITSTATUS(status)
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)


def run_foreground(pid1: int, node_ns: NodeNamespaces, argv: list[str],
                   env: dict[str, str], cwd: str | None) -> int:
    """``vcluster-ns run``: terminal, stdio and status pass straight through."""
    sys.stdout.flush()
    sys.stderr.flush()
    bridge = spawn(pid1, node_ns, argv, env, cwd)

    def forward(signum, frame):
        try:
            os.kill(bridge, signum)
        except ProcessLookupError:
            pass

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)
    return wait_exit_code(bridge)


# -- the host side's API -----------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Target:
    """Where a command runs: the cluster (its pid 1, a host pid) and, for a
    node, the node's namespace files (none: the cluster without a node)."""

    pid1: int
    node_ns: NodeNamespaces
    node: str | None
    # A node of another slice: the command goes through ``via`` (ssh to it)
    # from ``node``, a node of this machine, as one shell word.
    via: tuple[str, ...] = ()

    def argv(self, argv: list[str]) -> list[str]:
        if not self.via:
            return list(argv)
        import shlex
        return [*self.via, shlex.join(argv)]


def target(pid1: int, node: str | None, anchor_file: Path | None, isolated: bool) -> Target:
    """The target ``node`` (None: no node) of the cluster whose pid 1 is
    ``pid1``; ``anchor_file`` records the pid of the node's anchor."""
    if node is None:
        return Target(pid1, [], None)
    try:
        anchor = int(anchor_file.read_text())
    except (OSError, ValueError):
        raise ClusterNotUp(f"node {node} has no namespaces (the cluster is starting or broken)",
                           "try 'vcluster-ns down' and 'vcluster-ns up'") from None
    return Target(pid1, node_namespaces_from_host(pid1, anchor, isolated), node)


class NodeCommands:
    """Commands on the nodes of one running cluster, from the host.

    ``locate(node)``: the ``Target`` of a node name (None: no node), raising
    if the cluster is not up; ``env(node)``: the environment of a process
    acting as that node.
    """

    def __init__(self, locate: Callable[[str | None], Target],
                 env: Callable[[str | None], dict[str, str]]):
        self.locate = locate
        self.env = env

    def spawn(self, node: str | None, argv: list[str], **fds) -> int:
        """Start ``argv`` on ``node``; returns the bridge pid to wait for."""
        where = self.locate(node)
        return spawn(where.pid1, where.node_ns, where.argv(argv), self.env(where.node), "/root",
                     **fds)

    def foreground(self, node: str | None, argv: list[str], cwd: str | None = None) -> int:
        where = self.locate(node)
        if where.via:
            cwd = None  # the other machine's directories are not this one's
        return run_foreground(where.pid1, where.node_ns, where.argv(argv), self.env(where.node),
                              cwd)

    def run(self, node: str | None, *argv: str, capture: bool = True, check: bool = False,
            input: str | None = None, timeout: float | None = None
            ) -> subprocess.CompletedProcess:
        """Run ``argv`` on ``node`` (None: the cluster without a node identity).

        Like ``subprocess.run``: output captured as text unless ``capture`` is
        False; ``check`` raises ``subprocess.CalledProcessError`` on failure.
        A captured command still running after ``timeout`` seconds is
        stopped (``stop_overrunning``) and fails with TIMED_OUT.
        """
        from .errors import InvalidInput
        argv = list(argv)
        if not argv:
            raise InvalidInput("no command to run", "give a program and its arguments")
        where = self.locate(node)  # unknown node or cluster down: fail before making pipes
        fds, pipes = {}, []
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
        bridge = spawn(where.pid1, where.node_ns, where.argv(argv), self.env(where.node), "/root",
                       stdin=fds.get("stdin"), stdout=fds.get("stdout"),
                       stderr=fds.get("stderr"))
        for fd in fds.values():
            if fd is not None:
                os.close(fd)
        if input is not None:
            with os.fdopen(w, "w") as fh:
                fh.write(input)
        out = err = ""
        ended = True
        if capture:
            out, err, ended = read_two(pipes[0], pipes[1], timeout)
        if ended:
            code = wait_exit_code(bridge)
        else:
            code = stop_overrunning(bridge)
            err += f"vcluster-ns: {argv[0]} stopped after running {timeout:g}s\n"
        if check and code != 0:
            raise subprocess.CalledProcessError(code, argv, out, err)
        return subprocess.CompletedProcess(argv, code, out, err)


def read_two(fd_out: int, fd_err: int, timeout: float | None) -> tuple[str, str, bool]:
    """Drain two pipes concurrently (a full pipe would block the child);
    (out, err, whether both ended before ``timeout``)."""
    import selectors

    chunks = {fd_out: [], fd_err: []}
    ended = True
    with selectors.DefaultSelector() as sel:
        for fd in chunks:
            sel.register(fd, selectors.EVENT_READ)
        deadline = None if timeout is None else time.monotonic() + timeout
        while sel.get_map():
            wait = None if deadline is None else max(0, deadline - time.monotonic())
            events = sel.select(wait)
            if not events and deadline is not None and time.monotonic() >= deadline:
                ended = False
                break
            for key, _ in events:
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    sel.unregister(key.fd)
    for fd in chunks:
        os.close(fd)
    out, err = (b"".join(chunks[fd]).decode(errors="replace") for fd in (fd_out, fd_err))
    return out, err, ended
