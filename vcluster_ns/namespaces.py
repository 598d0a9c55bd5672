"""Create, enter and probe Linux namespaces, without root.

Python 3.11 (Debian 12) has no ``os.unshare``/``os.setns``; this module is the
one place that calls libc through ctypes.  Every function takes explicit
arguments and does one kernel-level step, so the steps can be tested alone.

Order matters and is the reason for this module's shape:

* ``unshare(CLONE_NEWUSER)`` is refused to a multi-threaded process, so the
  user namespace is created first, in a fresh single-threaded process, before
  trio or pyroute2 can start threads.
* Mapping our own uid to 0 is the one mapping an unprivileged process may
  write for itself; ``setgroups`` must be denied before ``gid_map``.
* A new pid namespace applies to children only: the caller forks after it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from pathlib import Path

from .errors import EnvironmentUnsupported

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MNT_DETACH = 0x2

# The namespaces a cluster owns, in the order a newcomer must join them:
# the user namespace first (it grants the capabilities the others need),
# the mount namespace last (joining it resets root and cwd).
CLUSTER_NS_ORDER = (
    ("user", CLONE_NEWUSER),
    ("net", CLONE_NEWNET),
    ("uts", CLONE_NEWUTS),
    ("ipc", CLONE_NEWIPC),
    ("pid", CLONE_NEWPID),
    ("mnt", CLONE_NEWNS),
)

# dlopen(NULL): the interpreter's own libc.  (ctypes.util.find_library would
# cost every `vcluster-ns run` 7 ms of imports, shutil and tempfile among them.)
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                        ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(value) -> bytes | None:
    return None if value is None else os.fsencode(value)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def mount(source, target, fstype=None, flags: int = 0, data: str | None = None) -> None:
    _check(
        _libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
        f"mount {fstype or ''} {source} on {target}".replace("  ", " "),
    )


def umount(target, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), flags), f"umount {target}")


PR_SET_PDEATHSIG = 1


def set_pdeathsig(signum: int) -> None:
    """prctl(PR_SET_PDEATHSIG): die with ``signum`` when the parent dies.
    (Through libc, not the prctl module: `vcluster-ns run` starts faster.)"""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), "sethostname")


def write_id_maps(pid: int | str, outer_uid: int, outer_gid: int) -> None:
    """Map ``outer_uid``/``outer_gid`` to 0 inside the user namespace of ``pid``."""
    proc = Path(f"/proc/{pid}")
    (proc / "setgroups").write_text("deny")
    (proc / "uid_map").write_text(f"0 {outer_uid} 1\n")
    (proc / "gid_map").write_text(f"0 {outer_gid} 1\n")


def become_namespace_root(extra_flags: int) -> None:
    """Create a user namespace where we are root, then the other namespaces.

    Raises ``EnvironmentUnsupported`` with the likely fix when the kernel or
    its security policy refuses unprivileged user namespaces.
    """
    uid, gid = os.geteuid(), os.getegid()
    try:
        unshare(CLONE_NEWUSER)
    except OSError as exc:
        raise EnvironmentUnsupported(
            f"cannot create a user namespace: {exc.strerror}",
            userns_hint(),
        ) from None
    write_id_maps("self", uid, gid)
    try:
        unshare(extra_flags)
    except OSError as exc:
        raise EnvironmentUnsupported(
            f"cannot create namespaces inside the user namespace: {exc.strerror}",
            userns_hint(),
        ) from None


def userns_hint(read=lambda p: Path(p).read_text().strip()) -> str:
    """Explain which setting forbids unprivileged user namespaces here."""
    checks = [
        ("/proc/sys/kernel/unprivileged_userns_clone", "1",
         "enable it: sysctl -w kernel.unprivileged_userns_clone=1"),
        ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "0",
         "AppArmor restricts user namespaces (Ubuntu 23.10+): "
         "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or add an "
         "AppArmor profile with 'userns,' for vcluster-ns's python"),
    ]
    for path, good, hint in checks:
        try:
            if read(path) != good:
                return hint
        except OSError:
            continue
    try:
        if read("/proc/sys/user/max_user_namespaces") == "0":
            return "user.max_user_namespaces is 0: sysctl -w user.max_user_namespaces=15000"
    except OSError:
        pass
    return "run 'vcluster-ns doctor'-style checks: is the process in a container that forbids unshare(2)?"


def probe_user_namespaces() -> None:
    """Fork a child that tries to create a user namespace; raise if it cannot."""
    uid, gid = os.geteuid(), os.getegid()  # before unshare: then they read 65534
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            unshare(CLONE_NEWUSER)
            write_id_maps("self", uid, gid)
            unshare(CLONE_NEWNET | CLONE_NEWNS)
        except OSError as exc:
            code = exc.errno or 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise EnvironmentUnsupported(
            f"cannot create a user namespace: {os.strerror(code)}", userns_hint()
        )


def open_namespaces(pid: int, kinds=CLUSTER_NS_ORDER) -> list[tuple[int, int]]:
    """Open ``/proc/PID/ns/*`` of a running process as (fd, nstype) pairs."""
    fds = []
    try:
        for name, nstype in kinds:
            fds.append((os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), nstype))
    except OSError:
        for fd, _ in fds:
            os.close(fd)
        raise
    return fds


def join_namespaces(fds: list[tuple[int, int]]) -> None:
    """setns into each (fd, nstype), in the given order; closes the fds."""
    try:
        for fd, nstype in fds:
            setns(fd, nstype)
    finally:
        for fd, _ in fds:
            os.close(fd)


@contextlib.contextmanager
def network_namespace(path: str):
    """Run the body in the network namespace at ``path``, then come back.

    Sockets keep the namespace they were created in, so this is how one
    process listens inside several namespaces.  setns applies to the calling
    thread only; other threads are unaffected.
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns(target, CLONE_NEWNET)
        try:
            yield
        finally:
            setns(own, CLONE_NEWNET)
    finally:
        os.close(own)
        os.close(target)
