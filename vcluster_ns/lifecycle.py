"""A cluster's lifecycle: one owner at a time, and the state it is in.

**The lock.** Every command that changes a cluster (up, down, destroy,
snapshot, node, net, restore) holds an exclusive ``flock`` on
``<root>/.<name>.lock`` for as long as it works.  The file lies *beside*
the cluster directory, not in it, so that two ``up`` of a cluster that does
not exist yet contend for the same file, and ``destroy`` can remove the
directory while holding it.  The kernel drops a flock when its holder dies
(SIGKILL included), so a lock is never stale.  A second command waits for
the first (saying whom it waits for) and then does its own work on what the
first left, so a second ``up`` reports the result of the first.  The
holder unlinks the file before it lets go, so none is left beside the
clusters (only a SIGKILLed holder leaves one, unlocked and harmless); a
waiter whose lock is then on an unlinked file takes the lock again on the
path's new file.  Nothing is written into the file: the holder's pid comes
from the kernel's ``/proc/locks``.

**The phase.** While a command works, ``<cluster>/lifecycle`` names its
phase (booting, initialising, joining, stopping) and its pid.  A phase file
whose writer no longer holds the lock is history: the work was interrupted,
and the state is judged from what the cluster shows.

**The states** (``state()``)::

    absent        no cluster.json
    created       made, never initialised, not running
    booting       namespaces and daemons starting (a command holds the lock)
    initialising  gnt-cluster init running
    joining       gnt-node add running
    up            running, and nothing is missing
    incomplete    running, but Ganeti is not initialised, nodes have not
                  joined or daemons are missing (``up`` finishes the job)
    stopping      down in progress
    down          not running
"""

from __future__ import annotations

import fcntl
import os
import signal
from pathlib import Path
from typing import Callable

from .errors import InvalidInput, OperationFailed

ABSENT, CREATED, BOOTING, INITIALISING, JOINING = (
    "absent", "created", "booting", "initialising", "joining")
UP, INCOMPLETE, STOPPING, DOWN = "up", "incomplete", "stopping", "down"
STATES = (ABSENT, CREATED, BOOTING, INITIALISING, JOINING, UP, INCOMPLETE, STOPPING, DOWN)
PHASES = (BOOTING, INITIALISING, JOINING, STOPPING)  # only while a command holds the lock

PHASE_FILE = "lifecycle"


def lock_path(root: Path, name: str) -> Path:
    return root / f".{name}.lock"


class ClusterLock:
    """The exclusive flock of one cluster (``acquire``, ``release``).

    ``on_wait(pid)`` is called once when somebody else holds the lock (pid:
    the holder's, from /proc/locks, or None), before waiting for it.
    """

    def __init__(self, root: Path, name: str):
        self.path = lock_path(root, name)
        self.fd: int | None = None
        self.made_root = False  # the root did not exist: release removes it if empty

    def holder(self) -> int | None:
        """The pid holding the lock (-1: held, pid unknown), or None if free.
        Read from /proc/locks, without a probing flock that could make an
        owner arriving at the same moment believe it has to wait."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            return _holder_pid(fd)
        finally:
            os.close(fd)

    def acquire(self, on_wait: Callable[[int | None], None] = lambda pid: None) -> None:
        told = False
        while True:
            fd = self._open()
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    if not told:
                        on_wait(_holder_pid(fd))
                        told = True
                    fcntl.flock(fd, fcntl.LOCK_EX)
                if _same_file(fd, self.path):
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # destroy removed the file while we waited: lock the new one
        self.fd = fd

    def _open(self) -> int:
        try:
            if not self.path.parent.exists():
                self.path.parent.mkdir(parents=True)
                self.made_root = True
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise InvalidInput(f"cannot open the cluster's lock file {self.path}: "
                               f"{exc.strerror}", "check that --root is writable") from None

    def release(self) -> None:
        """Unlink the file, then let go (waiters lock the path's next file)."""
        if self.fd is None:
            return
        try:
            self.path.unlink()
        except OSError:
            pass  # gone with the cluster's root, or a read-only root: harmless
        os.close(self.fd)
        self.fd = None
        if self.made_root:
            try:
                self.path.parent.rmdir()  # only if empty: nothing else was made
            except OSError:
                pass

    @property
    def held(self) -> bool:
        return self.fd is not None


def _holder_pid(fd: int, locks: str = "/proc/locks") -> int | None:
    """The pid holding an exclusive flock on ``fd``'s file, from the kernel's
    table (``1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF``)."""
    st = os.fstat(fd)
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open(locks) as fh:
            for line in fh:
                fields = line.split()
                if "->" in fields:  # a waiter, not the holder
                    continue
                if fields[1:2] == ["FLOCK"] and fields[3] == "WRITE" and fields[5] == inode:
                    return int(fields[4])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


# -- the phase file ------------------------------------------------------------

def set_phase(cluster_dir: Path, phase: str, **facts) -> None:
    """Record what the lock holder is doing now, or the state it left
    (``facts``: e.g. init=0 for an 'up --no-init')."""
    assert phase in STATES, phase
    extra = "".join(f" {k}={v}" for k, v in facts.items())
    tmp = cluster_dir / (PHASE_FILE + ".tmp")
    tmp.write_text(f"{phase} {os.getpid()}{extra}\n")
    os.replace(tmp, cluster_dir / PHASE_FILE)


def read_phase(cluster_dir: Path) -> tuple[str, int, dict[str, str]] | None:
    try:
        words = (cluster_dir / PHASE_FILE).read_text().split()
        facts = dict(w.split("=", 1) for w in words[2:] if "=" in w)
        return words[0], int(words[1]), facts
    except (OSError, ValueError, IndexError):
        return None


def clear_phase(cluster_dir: Path) -> None:
    try:
        (cluster_dir / PHASE_FILE).unlink()
    except FileNotFoundError:
        pass


# -- every process of a cluster -------------------------------------------------

ROLES = ("launcher", "init", "supervisor")


def processes_by_title(name: str, cluster_dir: Path, proc: str = "/proc") -> dict[int, str]:
    """Our own processes of cluster ``name`` in ``cluster_dir``, found by the
    process titles boot.py gives them (``vcluster-ns ROLE NAME DIR``): also
    those that no supervisor.pid names, e.g. a cluster started by an ``up``
    that lost a race before clusters had a lock."""
    wanted = {f"vcluster-ns {role} {name} {cluster_dir}": role for role in ROLES}
    # A launcher in its first moments, before it sets its title.
    starting = [b"-m", b"vcluster_ns.boot", os.fsencode(cluster_dir)]
    found = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        title = argv[0].decode(errors="replace").strip()
        if title in wanted:
            found[int(entry)] = wanted[title]
        elif [a for a in argv if a][-3:] == starting:
            found[int(entry)] = "launcher"
    return found


def kill_strays(name: str, cluster_dir: Path, timeout: float = 30.0) -> list[int]:
    """SIGKILL every launcher and pid 1 of the cluster that is still alive,
    and wait until they are gone; the kernel ends everything in the pid
    namespace of a pid 1 that dies.  For ``down`` after the cluster it knows
    has stopped, and for ``up`` before it starts one: whatever is left then
    was started by an interrupted or racing ``up``.  Returns the pids."""
    import time
    killed = []
    for pid, role in processes_by_title(name, cluster_dir).items():
        if role == "supervisor":
            continue  # it dies with its pid 1
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
        except PermissionError:
            raise OperationFailed(f"pid {pid} of cluster {name!r} belongs to another user",
                                  "end it as that user") from None
    deadline = time.monotonic() + timeout
    while any(r != "supervisor" for r in processes_by_title(name, cluster_dir).values()):
        if time.monotonic() > deadline:
            raise OperationFailed(f"processes of cluster {name!r} survived SIGKILL",
                                  "are they stopped (SIGSTOP) or traced?")
        time.sleep(0.05)
    return killed
