"""Supervise long-running processes with trio: start, readiness, restart, stop.

Knows nothing about Ganeti.  A ``Supervisor`` owns one nursery per *group*
(a virtual node) and one task per daemon inside it, so all groups start
concurrently and stopping a group cancels exactly its daemons.

Life of a daemon (``Daemon.state``)::

    starting ──ready──► running ──exit──► backoff ──delay──► starting ...
        │                   │                 └─ too many crashes ─► failed
        └─ exit with a status listed in ``ok_exits``, or a last log line
           holding one of ``ok_messages`` ─► that state (no restart)
    stop(): SIGTERM to the process group, ``grace`` seconds, then SIGKILL ─► stopped

Readiness is observed, not assumed: a daemon is ``running`` once the socket
its spec names (``DaemonSpec.ready``: a TCP/UDP port or unix socket) shows
as listening in the socket tables of its network namespace (``/proc/net``,
or another namespace's ``/proc/PID/net``), or once its own probe answers.
Daemons write to per-daemon log files, never to pipes nobody reads.

What a daemon is comes in as data (``daemonspec.DaemonSpec``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import signal
import subprocess
import time
from collections import deque
from pathlib import Path
from typing import Callable

import trio

from .daemonspec import TCP, UDP, UNIX, DaemonSpec, Listening

__all__ = ["DaemonSpec", "Listening", "ListenTable", "RestartPolicy", "Supervisor", "tail",
           "STARTING", "RUNNING", "BACKOFF", "STOPPED", "FAILED"]

STARTING, RUNNING, BACKOFF, STOPPED, FAILED = (
    "starting", "running", "backoff", "stopped", "failed")
TERMINAL = {STOPPED, FAILED}


@dataclasses.dataclass(frozen=True)
class RestartPolicy:
    """Capped, jittered exponential backoff inside a sliding window."""

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    max_restarts: int = 5
    window: float = 120.0
    jitter: float = 0.1

    def delay(self, consecutive: int, rng: random.Random | None = None) -> float:
        base = min(self.cap, self.initial * self.factor ** max(consecutive - 1, 0))
        spread = base * self.jitter
        return base + (rng or random).uniform(-spread, spread)

    def gives_up(self, crash_times: deque, now: float) -> bool:
        while crash_times and now - crash_times[0] > self.window:
            crash_times.popleft()
        return len(crash_times) > self.max_restarts


@dataclasses.dataclass
class Daemon:
    spec: DaemonSpec
    started_by: str = "supervisor"
    state: str = STARTING
    pid: int | None = None
    restarts: int = 0
    since: float = dataclasses.field(default_factory=time.monotonic)
    last_exit: int | None = None
    failure: str | None = None
    crash_times: deque = dataclasses.field(default_factory=deque)
    changed: trio.Event = dataclasses.field(default_factory=trio.Event)
    stopping: bool = False
    kill_on_stop: bool = False
    cancel: trio.CancelScope | None = None
    process: trio.Process | None = None
    done: trio.Event = dataclasses.field(default_factory=trio.Event)

    def set_state(self, state: str) -> None:
        self.state = state
        self.since = time.monotonic()
        old, self.changed = self.changed, trio.Event()
        old.set()

    def as_dict(self) -> dict:
        return {
            "node": self.spec.group,
            "daemon": self.spec.name,
            "state": self.state,
            "pid": self.pid if self.state in (STARTING, RUNNING) else None,
            "restarts": self.restarts,
            "uptime": round(time.monotonic() - self.since, 1)
            if self.state == RUNNING else None,
            "started_by": self.started_by,
            "last_exit": self.last_exit,
            "failure": self.failure,
        }


def tail(path: Path, lines: int = 5) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - 4096))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Runs daemons in per-group nurseries; every public method is async-safe."""

    def __init__(self, nursery: trio.Nursery, policy: RestartPolicy = RestartPolicy(),
                 grace: float = 10.0, ready_timeout: float = 90.0,
                 log: Callable[[str], None] = lambda msg: None):
        self._nursery = nursery
        self._groups: dict[str, trio.Nursery] = {}
        self._group_locks: dict[str, trio.Lock] = {}
        self.daemons: dict[tuple[str, str], Daemon] = {}
        self.policy = policy
        self.grace = grace
        self.ready_timeout = ready_timeout
        self.log = log
        self._listen_tables: dict[str, ListenTable] = {}

    def listening(self, ready: Listening) -> bool:
        """Is the socket ``ready`` names listening (one table per namespace)?"""
        table = self._listen_tables.get(ready.proc_net)
        if table is None:
            table = self._listen_tables[ready.proc_net] = ListenTable(proc_net=ready.proc_net)
        if ready.kind == TCP:
            return table.tcp(*ready.address)
        if ready.kind == UDP:
            return table.udp(*ready.address)
        if ready.kind == UNIX:
            return table.unix(ready.address)
        raise ValueError(f"unknown kind of socket {ready.kind!r}")

    # -- groups ------------------------------------------------------------
    async def _group(self, name: str, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._groups[name] = nursery
            task_status.started()
            await trio.sleep_forever()

    async def group(self, name: str) -> trio.Nursery:
        # One lock per group: two first starts at once must not both create it.
        lock = self._group_locks.setdefault(name, trio.Lock())
        async with lock:
            if name not in self._groups:
                await self._nursery.start(self._group, name)
        return self._groups[name]

    # -- one daemon --------------------------------------------------------
    async def start(self, spec: DaemonSpec, started_by: str = "supervisor",
                    wait: bool = True) -> Daemon:
        """Start (or keep) a daemon; with ``wait``, return once it is ready or ended."""
        key = (spec.group, spec.name)
        daemon = self.daemons.get(key)
        if daemon is None or daemon.done.is_set():
            daemon = Daemon(spec=spec, started_by=started_by)
            self.daemons[key] = daemon
            nursery = await self.group(spec.group)
            nursery.start_soon(self._supervise, daemon)
        if wait:
            await self.wait_settled(daemon)
        return daemon

    async def wait_settled(self, daemon: Daemon, timeout: float | None = None) -> None:
        """Wait until the daemon is running or has reached a state it stays in."""
        with trio.move_on_after(timeout or self.ready_timeout):
            while daemon.state in (STARTING, BACKOFF):
                await daemon.changed.wait()

    async def stop(self, group: str, name: str, kill: bool = False) -> Daemon | None:
        daemon = self.daemons.get((group, name))
        if daemon is None or daemon.done.is_set():
            return daemon
        daemon.stopping = True
        daemon.kill_on_stop = kill
        if daemon.cancel is not None:
            daemon.cancel.cancel()
        await daemon.done.wait()
        return daemon

    async def kill(self, group: str, name: str) -> Daemon | None:
        """Crash a daemon on purpose (SIGKILL); the restart policy applies."""
        daemon = self.daemons.get((group, name))
        if daemon and daemon.process and daemon.state not in TERMINAL:
            _signal_group(daemon.process.pid, signal.SIGKILL)
        return daemon

    async def stop_group(self, group: str, kill: bool = False) -> None:
        async with trio.open_nursery() as nursery:
            for (g, name) in list(self.daemons):
                if g == group:
                    nursery.start_soon(self.stop, g, name, kill)

    async def stop_all(self, kill: bool = False) -> None:
        async with trio.open_nursery() as nursery:
            for group in {g for g, _ in self.daemons}:
                nursery.start_soon(self.stop_group, group, kill)

    def status(self) -> list[dict]:
        return [d.as_dict() for _, d in sorted(self.daemons.items())]

    # -- the supervision loop ----------------------------------------------
    async def _supervise(self, daemon: Daemon) -> None:
        try:
            while not daemon.stopping:
                status = await self._run_once(daemon)
                if daemon.stopping:
                    break
                daemon.last_exit = status
                state = _expected_exit(daemon.spec, status)
                if state is not None:
                    daemon.set_state(state)
                    return
                now = time.monotonic()
                daemon.crash_times.append(now)
                if self.policy.gives_up(daemon.crash_times, now):
                    daemon.failure = tail(daemon.spec.log_path)
                    daemon.set_state(FAILED)
                    self.log(f"{daemon.spec.group}/{daemon.spec.name} failed: "
                             f"exit {status}, {len(daemon.crash_times)} crashes")
                    return
                daemon.restarts += 1
                delay = self.policy.delay(len(daemon.crash_times))
                self.log(f"{daemon.spec.group}/{daemon.spec.name} exited with {status};"
                         f" restart {daemon.restarts} in {delay:.1f}s")
                daemon.set_state(BACKOFF)
                daemon.cancel = trio.CancelScope()
                if not daemon.stopping:
                    with daemon.cancel:
                        await trio.sleep(delay)
            daemon.set_state(STOPPED)
        finally:
            if daemon.state in (STARTING, RUNNING, BACKOFF):
                daemon.set_state(STOPPED)
            daemon.done.set()

    async def _run_once(self, daemon: Daemon) -> int:
        spec = daemon.spec
        # Created before the spawn so that a stop() arriving meanwhile is not lost.
        daemon.cancel = trio.CancelScope()
        daemon.set_state(STARTING)
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.log_path, "ab") as logfile:
            process = await trio.lowlevel.open_process(
                spec.argv, env=spec.env, cwd=spec.cwd, stdin=subprocess.DEVNULL,
                stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_blocking(spec.blocked_signals))
        daemon.process, daemon.pid = process, process.pid
        if spec.pid_file is not None:
            _write_pid_file(spec.pid_file, process.pid)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_ready, daemon, process)
                with daemon.cancel:
                    await process.wait()
                if daemon.stopping and process.returncode is None:
                    with trio.CancelScope(shield=True):
                        await self._terminate(daemon, process)
                nursery.cancel_scope.cancel()
        finally:
            if process.returncode is None:  # cancelled from outside: never leak
                with trio.CancelScope(shield=True):
                    await self._terminate(daemon, process)
        return process.returncode

    async def _terminate(self, daemon: Daemon, process: trio.Process) -> None:
        if not daemon.kill_on_stop:
            _signal_group(process.pid, signal.SIGTERM)
            with trio.move_on_after(self.grace):
                await process.wait()
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGKILL)
            await process.wait()
        # Children left in the daemon's session (noded forks per request).
        _signal_group(process.pid, signal.SIGKILL)

    async def _watch_ready(self, daemon: Daemon, process: trio.Process) -> None:
        probe = daemon.spec.probe
        if probe is None and daemon.spec.ready is not None:
            ready = daemon.spec.ready

            async def probe() -> bool:
                return self.listening(ready)
        if probe is None:
            daemon.set_state(RUNNING)
            return
        delay = 0.05
        deadline = trio.current_time() + self.ready_timeout
        while process.returncode is None and trio.current_time() < deadline:
            if await probe():
                daemon.set_state(RUNNING)
                return
            await trio.sleep(delay)
            delay = min(delay * 1.5, 1.0)
        if process.returncode is None:
            daemon.failure = f"not ready after {self.ready_timeout:g}s"
            self.log(f"{daemon.spec.group}/{daemon.spec.name} {daemon.failure}")
            daemon.set_state(daemon.state)  # wake waiters; state stays "starting"


def _expected_exit(spec: DaemonSpec, status: int) -> str | None:
    """The state an exit means when it is an answer rather than a crash."""
    if status in spec.ok_exits:
        return spec.ok_exits[status]
    if spec.ok_messages:
        last = tail(spec.log_path, 1)
        for text, state in spec.ok_messages.items():
            if text in last:
                return state
    return None


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _blocking(signals: tuple[int, ...]) -> Callable[[], None] | None:
    """What the child runs before exec to start with ``signals`` blocked
    (None: nothing, so that Popen keeps its faster spawn)."""
    if not signals:
        return None

    def block() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    return block


def _write_pid_file(path: Path, pid: int) -> None:
    try:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(f"{pid}\n")
        os.replace(tmp, path)
    except OSError:
        pass


# -- readiness probes read from /proc/net (no connection, no side effect) ---

class ListenTable:
    """Listening sockets of this network namespace, re-read at most every ``ttl``."""

    def __init__(self, ttl: float = 0.05, proc_net: str = "/proc/net"):
        self.ttl = ttl
        self.proc_net = proc_net
        self._read_at = -math.inf
        self._tcp: set[tuple[str, int]] = set()
        self._udp: set[tuple[str, int]] = set()
        self._unix: set[str] = set()

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._read_at < self.ttl:
            return
        self._read_at = now
        self._tcp = _parse_inet(f"{self.proc_net}/tcp", listening_state="0A")
        self._udp = _parse_inet(f"{self.proc_net}/udp", listening_state="07")
        self._unix = _parse_unix(f"{self.proc_net}/unix")

    def tcp(self, ip: str, port: int) -> bool:
        self._refresh()
        return (ip, port) in self._tcp or ("0.0.0.0", port) in self._tcp

    def udp(self, ip: str, port: int) -> bool:
        self._refresh()
        return (ip, port) in self._udp or ("0.0.0.0", port) in self._udp

    def unix(self, path: str) -> bool:
        self._refresh()
        return path in self._unix


def _hex_ipv4(text: str) -> str:
    raw = bytes.fromhex(text)[::-1]  # /proc/net shows IPv4 in host (little-endian) order
    return ".".join(str(b) for b in raw)


def _parse_inet(path: str, listening_state: str) -> set[tuple[str, int]]:
    found = set()
    try:
        with open(path) as fh:
            next(fh, None)
            for line in fh:
                fields = line.split()
                if len(fields) > 3 and fields[3] == listening_state:
                    ip_hex, port_hex = fields[1].split(":")
                    found.add((_hex_ipv4(ip_hex), int(port_hex, 16)))
    except OSError:
        pass
    return found


def _parse_unix(path: str) -> set[str]:
    found = set()
    try:
        with open(path) as fh:
            next(fh, None)
            for line in fh:
                # The path is the last field and may itself hold spaces.
                fields = line.rstrip("\n").split(None, 7)
                # Flags 00010000 is __SO_ACCEPTCON: a listening socket.
                if len(fields) == 8 and fields[3] == "00010000":
                    found.add(fields[7])
    except OSError:
        pass
    return found
