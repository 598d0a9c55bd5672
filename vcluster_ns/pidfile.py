"""``supervisor.pid``: the host pid of a cluster's pid 1, safe against pid reuse.

The file holds the pid and the process's start time (field 22 of
``/proc/PID/stat``); a pid whose start time differs is somebody else's, and
the file is stale.  A stale file is what a SIGKILLed cluster leaves behind.
"""

from __future__ import annotations

import os
from pathlib import Path


def start_time(pid: int, proc: str = "/proc") -> str | None:
    """The start time of a *living* process (None for no process or a zombie).

    A zombie is dead: on hosts whose init never reaps (some VMs), a killed
    cluster's pid 1 stays a zombie, and must not count as a cluster that is up.
    """
    try:
        with open(f"{proc}/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after it.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


class PidFile:
    def __init__(self, path: Path):
        self.path = path

    def write(self, pid: int) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(f"{pid} {start_time(pid)}\n")
        os.replace(tmp, self.path)

    def read_raw(self) -> tuple[int, str] | None:
        try:
            pid, started = self.path.read_text().split()
            return int(pid), started
        except (OSError, ValueError):
            return None

    def live_pid(self) -> int | None:
        """The recorded pid if that very process still runs, else None."""
        raw = self.read_raw()
        if raw is None:
            return None
        pid, started = raw
        if start_time(pid) != started:
            return None
        return pid

    def remove_if(self, pid: int) -> None:
        raw = self.read_raw()
        if raw is not None and raw[0] == pid:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
