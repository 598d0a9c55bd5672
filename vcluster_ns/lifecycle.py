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
    joining       gnt-node add running (linear join: nodes briefly offline)
    up            running, and nothing is missing
    incomplete    running, but Ganeti is not initialised, nodes have not
                  joined (or a join left them offline) or daemons are
                  missing (``up`` finishes the job)
    stopping      down in progress
    down          not running

**Transitions**, as the commands drive them::

    absent ──up──► created ──► booting ──► initialising ──► joining ──► settle ──► up
                                  ▲               │  cut or failed  │                │
                                  │               ▼                 ▼                │
                                  │            incomplete ◄─────────┘                │
                                  │               │ up: init redone, adds finished,  │
                                  │               └── daemons started, settle ───► up│
    down ◄──────────── down, from any running state ◄────────────────────────────────┘
      └──────── up ───────┘

``up`` ends only in ``up``: after its work it judges the cluster again
(``settle``: ``missing``, then start what can be started, then judge again,
a few rounds); what is still missing then is the error it ends with.  "up"
is a state that is checked, never a message.

**The process titles** (``title``, ``parse_title``): every long-lived
process of a cluster is named ``vcluster-ns ROLE NAME DIR`` (launcher, init,
supervisor, and ``node NODE`` for the anchors), so ``ps`` tells clusters
apart and ``kill_strays`` finds a cluster no supervisor.pid names.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import signal
import time
from pathlib import Path
from typing import Callable

from .errors import InvalidInput, OperationFailed

ABSENT, CREATED, BOOTING, INITIALISING, JOINING = (
    "absent", "created", "booting", "initialising", "joining")
UP, INCOMPLETE, STOPPING, DOWN = "up", "incomplete", "stopping", "down"
STATES = (ABSENT, CREATED, BOOTING, INITIALISING, JOINING, UP, INCOMPLETE, STOPPING, DOWN)
PHASES = (BOOTING, INITIALISING, JOINING, STOPPING)  # only while a command holds the lock


@dataclasses.dataclass(frozen=True)
class Step:
    """A timed step of ``up``: ``label`` keys ``Recorder.timings`` (what the
    benchmark reports); ``phase`` is the state the cluster shows meanwhile."""

    label: str
    phase: str | None = None


BOOT = Step("namespaces+daemons", BOOTING)
INIT = Step("gnt-cluster init", INITIALISING)
JOIN = Step("node adds", JOINING)
NEW_DAEMONS = Step("new nodes' daemons", JOINING)
FINISH = Step("finishing", JOINING)
SEED = Step("seeded instances")
RESTORE = Step("restore")

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

    @contextlib.contextmanager
    def owning(self, on_wait: Callable[[int | None], None] = lambda pid: None):
        """Hold the lock for a block (again, if this object holds it already)."""
        if self.held:
            yield
            return
        self.acquire(on_wait)
        try:
            yield
        finally:
            self.release()


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


# -- the steps of one command ---------------------------------------------------

class Recorder:
    """Times the steps of one ``up`` and, while ``owns()`` (the lock is
    held), records each step's phase in the cluster's phase file."""

    def __init__(self, cluster_dir: Path, owns: Callable[[], bool] = lambda: True,
                 facts: dict | None = None):
        self.cluster_dir = cluster_dir
        self.owns = owns
        self.facts = dict(facts or {})
        self.timings: dict[str, float] = {}

    def enter(self, phase: str) -> None:
        if self.owns():
            set_phase(self.cluster_dir, phase, **self.facts)

    @contextlib.contextmanager
    def step(self, step: Step):
        start = time.monotonic()
        if step.phase:
            self.enter(step.phase)
        try:
            yield
        finally:
            self.timings[step.label] = (self.timings.get(step.label, 0.0)
                                        + time.monotonic() - start)


# -- judging a cluster ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Facts:
    """What ``judge`` needs to know of a cluster, gathered by its caller."""

    exists: bool
    running: bool = False
    record: tuple[str, int, dict[str, str]] | None = None  # the phase file
    locked_by_other: bool = False   # another command holds the lock now
    initialised: bool = False       # Ganeti's init has run on the first node
    missing: tuple[str, ...] = ()   # what a running cluster lacks (see ``missing``)


def judge(facts: Facts) -> tuple[str, list[str]]:
    """The state (one of STATES) and, for ``incomplete``, what is missing."""
    if not facts.exists:
        return ABSENT, []
    record = facts.record
    if record and record[0] in PHASES and facts.locked_by_other:
        return record[0], []
    if not facts.running:
        started = record is not None or facts.initialised
        return (DOWN if started else CREATED), []
    if facts.missing:
        return INCOMPLETE, list(facts.missing)
    return UP, []


def settle(judge: Callable[[], list[str]], repair: Callable[[], bool],
           attempts: int = 3) -> list[str]:
    """``up``'s last step: judge what the cluster lacks; while something is
    missing and ``repair()`` could do something about it (it says so), let
    it and judge again.  Returns what is still missing: empty means up."""
    for _ in range(attempts):
        lacking = judge()
        if not lacking or not repair():
            return lacking
    return judge()


def init_wanted(record: tuple[str, int, dict[str, str]] | None) -> bool | None:
    """Did the last ``up`` want Ganeti initialised (None: not recorded)?"""
    if record is None or "init" not in record[2]:
        return None
    return record[2]["init"] == "1"


def missing(initialised: bool, unfinished_init: bool, nodes: list[dict],
            expected: dict[str, list[str]], unfinished_join: bool = False,
            kept_offline: frozenset[str] = frozenset()) -> list[str]:
    """What a running cluster that should run Ganeti lacks, in words.

    ``nodes``: the supervisor's status of each node (name, role, stopped,
    daemons with their states); ``expected``: the daemons each node that
    has joined should run (nodes not in it are not judged);
    ``unfinished_join``: a linear join (ganeti/join.py) was cut short: the
    nodes offline then, but those in ``kept_offline`` (the cluster file's),
    are still to be brought online."""
    if unfinished_init:
        return ["Ganeti's init was interrupted"]
    if not initialised:
        return ["Ganeti is not initialised"]
    what = []
    not_joined = [n["name"] for n in nodes if n["role"] == "not-joined"]
    if not_joined:
        what.append(f"{len(not_joined)} node(s) not joined: {some(not_joined)}")
    if unfinished_join:
        offline = [n["name"] for n in nodes
                   if n["role"] == "offline" and n["name"] not in kept_offline]
        what.append("the node join was interrupted" + (
            f" ({len(offline)} node(s) left offline: {some(offline)})" if offline else ""))
    lacking = missing_daemons(nodes, expected)
    if lacking:
        what.append("daemons not running on " + some(
            [f"{node} ({', '.join(d.removeprefix('ganeti-') for d in ds)})"
             for node, ds in lacking.items()]))
    return what


def missing_daemons(nodes: list[dict], expected: dict[str, list[str]]) -> dict[str, list[str]]:
    """Joined nodes (not stopped on purpose) whose expected daemons were never
    started, or stopped or gave up, without anybody asking."""
    lacking = {}
    for node in nodes:
        if node["role"] in (None, "not-joined", "offline") or node["stopped"]:
            continue
        alive = {d["daemon"] for d in node["daemons"] if d["state"] not in ("stopped", "failed")}
        absent = [d for d in expected.get(node["name"], ()) if d not in alive]
        if absent:
            lacking[node["name"]] = absent
    return lacking


def some(names: list[str], most: int = 5) -> str:
    """A list for one line: the first few, then how many more."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


# -- process titles ---------------------------------------------------------------

ROLES = ("launcher", "init", "supervisor")
TITLE_PREFIX = "vcluster-ns"


def title(role: str, name: str, cluster_dir: Path | str) -> str:
    """What ps shows: the role, the cluster and its directory (names repeat
    across roots; the directory tells clusters apart)."""
    return f"{TITLE_PREFIX} {role} {name} {cluster_dir}"


def parse_title(text: str) -> tuple[str, str, str] | None:
    """(role, name, directory) of a title ``title`` made, else None."""
    words = text.strip().split(" ", 3)
    if len(words) != 4 or words[0] != TITLE_PREFIX or words[1] not in ROLES:
        return None
    return words[1], words[2], words[3]


def node_title(node: str) -> str:
    """The title of the anchor process holding ``node``'s namespaces."""
    return f"{TITLE_PREFIX} node {node}"


# -- every process of a cluster -------------------------------------------------

def processes_by_title(name: str, cluster_dir: Path, proc: str = "/proc") -> dict[int, str]:
    """Our own processes of cluster ``name`` in ``cluster_dir``, found by the
    process titles boot.py gives them (``vcluster-ns ROLE NAME DIR``): also
    those that no supervisor.pid names, e.g. a cluster started by an ``up``
    that lost a race before clusters had a lock."""
    wanted = (name, str(cluster_dir))
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
        parsed = parse_title(argv[0].decode(errors="replace"))
        if parsed is not None and parsed[1:] == wanted:
            found[int(entry)] = parsed[0]
        elif [a for a in argv if a][-3:] == starting:
            found[int(entry)] = "launcher"
    return found


def kill_strays(name: str, cluster_dir: Path, timeout: float = 30.0) -> list[int]:
    """SIGKILL every launcher and pid 1 of the cluster that is still alive,
    and wait until they are gone; the kernel ends everything in the pid
    namespace of a pid 1 that dies.  For ``down`` after the cluster it knows
    has stopped, and for ``up`` before it starts one: whatever is left then
    was started by an interrupted or racing ``up``.  Returns the pids."""
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
