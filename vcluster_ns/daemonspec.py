"""What the runner needs to know of one daemon: plain data, no trio.

Built by whoever knows the daemon (``ganeti.daemons.describe`` for Ganeti's,
tests for fake ones) and handed to ``runner.Supervisor.start``.  Kept apart
from runner.py so that code describing daemons, which the shims import,
does not pay for importing trio.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Awaitable, Callable

TCP, UDP, UNIX = "tcp", "udp", "unix"


@dataclasses.dataclass(frozen=True)
class Listening:
    """Ready once a socket listens: ``kind`` tcp or udp with ``address``
    (ip, port), or unix with ``address`` a path; read from the socket
    tables in ``proc_net`` (the daemon's network namespace's)."""

    kind: str
    address: tuple[str, int] | str
    proc_net: str = "/proc/net"


@dataclasses.dataclass
class DaemonSpec:
    group: str
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    # Readiness: a socket that must be listening, or any async check;
    # neither: ready as soon as it runs.
    ready: Listening | None = None
    probe: Callable[[], Awaitable[bool]] | None = None
    ok_exits: dict[int, str] = dataclasses.field(default_factory=dict)
    # Some daemons say why they stopped only in words: text -> state.
    ok_messages: dict[str, str] = dataclasses.field(default_factory=dict)
    pid_file: Path | None = None
    cwd: str = "/"
    # Signals the daemon starts with blocked (inherited across exec).
    blocked_signals: tuple[int, ...] = ()
