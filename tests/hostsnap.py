"""A snapshot of everything on the host that a cluster must never change.

Tests take one before starting a cluster and compare after ``down`` (or after
the supervisor is killed): host files byte for byte, addresses, links and
routes of the host's network namespace, the host's mount table, and the
processes of the test user that are still alive.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

HOST_FILES = ("/etc/hosts", "/etc/passwd", "/etc/group")


def _network() -> tuple[frozenset, frozenset, frozenset]:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        links = frozenset(
            (l.get_attr("IFLA_IFNAME"), l["index"]) for l in ipr.get_links())
        addrs = frozenset(
            (a["index"], a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr())
        routes = frozenset(
            (r.get_attr("RTA_DST"), r["dst_len"], r.get_attr("RTA_OIF"), r["type"],
             r.get_attr("RTA_TABLE"))
            for r in ipr.get_routes(family=2))
    return links, addrs, routes


def _mounts() -> tuple[str, ...]:
    with open("/proc/self/mountinfo") as fh:
        return tuple(sorted(" ".join(l.split()[3:5]) for l in fh))


def live_processes(uid: int | None = None) -> dict[int, str]:
    """pid -> command line of the user's processes, zombies left out.

    A zombie holds nothing and is its parent's to reap; on hosts whose init
    does not reap (some VMs and containers) it would stay forever.
    """
    uid = os.getuid() if uid is None else uid
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            if f"\nUid:\t{uid}\t" not in status:
                continue
            state = next(l for l in status.splitlines() if l.startswith("State:"))
            if "Z" in state.split()[1]:
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, StopIteration):
            continue
        found[int(entry.name)] = cmd
    return found


def in_pid_namespace_of(pid: int) -> list[tuple[int, str]]:
    """(host pid, /proc/PID/status text) of every process in ``pid``'s pid namespace."""
    try:
        target = os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns" / "pid") == target:
                found.append((int(entry.name), (entry / "status").read_text()))
        except OSError:
            continue
    return found


def inner_pid(status: str) -> int:
    """The pid inside the innermost pid namespace, from /proc/PID/status text."""
    return int(next(l for l in status.splitlines() if l.startswith("NSpid:")).split()[-1])


def _namespace_init_title(pid: int) -> str:
    """The command line of pid 1 of ``pid``'s pid namespace ('' if unknown)."""
    for host, status in in_pid_namespace_of(pid):
        if inner_pid(status) == 1:
            try:
                return Path(f"/proc/{host}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            except OSError:
                return ""
    return ""


def _could_be_ours(pid: int, cmd: str, owners: list[str] | None) -> bool:
    """Could this process be left over by a cluster (not an unrelated one of the
    same user, e.g. another test run)?  Everything a cluster starts is either
    in a pid namespace of its own or one of vcluster-ns's titled processes,
    whose titles end with the cluster directory (one of ``owners``, when given)."""
    try:
        foreign_ns = os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    except OSError:
        return False
    if owners is None:
        return foreign_ns or "vcluster-ns " in cmd or "ganeti" in cmd
    title = _namespace_init_title(pid) if foreign_ns else cmd
    return title.startswith("vcluster-ns ") and any(_owned_by(title, o) for o in owners)


def _owned_by(title: str, owner: str) -> bool:
    """Titles end with the cluster directory; ``owner`` may end with ``*``
    to name every directory under a prefix (clusters made by someone else,
    such as the pytest plugin, in a temporary root)."""
    if owner.endswith("*"):
        return f" {owner[:-1]}" in title
    return title.endswith(f" {owner}")


@dataclasses.dataclass(frozen=True)
class HostSnapshot:
    files: dict
    links: frozenset
    addresses: frozenset
    routes: frozenset
    mounts: tuple
    processes: dict

    @classmethod
    def take(cls) -> "HostSnapshot":
        links, addrs, routes = _network()
        return cls(
            files={p: Path(p).read_bytes() for p in HOST_FILES},
            links=links, addresses=addrs, routes=routes, mounts=_mounts(),
            processes=live_processes(),
        )

    def differences(self, later: "HostSnapshot", owner=None) -> list[str]:
        """What changed; with ``owner`` (a cluster directory, or a list of
        them, or a prefix ending in ``*``) only those clusters' processes
        count, so other clusters of the user may run meanwhile."""
        owners = None if owner is None else [
            str(o) for o in (owner if isinstance(owner, (list, tuple)) else [owner])]
        diff = []
        for path in HOST_FILES:
            if self.files[path] != later.files[path]:
                diff.append(f"{path} changed")
        for name in ("links", "addresses", "routes"):
            before, after = getattr(self, name), getattr(later, name)
            if before != after:
                diff.append(f"host {name}: +{sorted(map(str, after - before))} "
                            f"-{sorted(map(str, before - after))}")
        if self.mounts != later.mounts:
            diff.append(f"host mounts: +{sorted(set(later.mounts) - set(self.mounts))}")
        me = os.getpid()
        new = {pid: cmd for pid, cmd in later.processes.items()
               if pid not in self.processes and pid != me
               and _could_be_ours(pid, cmd, owners)}
        if new:
            diff.append(f"processes left: {new}")
        return diff
