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
"""

from __future__ import annotations

import os
import signal
import sys

from . import namespaces as ns

FORWARDED = (signal.SIGTERM, signal.SIGHUP)
EXEC_FAILED = 127     # as a shell: no such command
NOT_EXECUTABLE = 126  # as a shell: found, but it cannot be executed
ENTER_FAILED = 126


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
