"""Helpers shared by the test tiers: the CLI as a subprocess, waiting, tiers."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hostsnap import HostSnapshot, in_pid_namespace_of, inner_pid, live_processes


def wait_for(condition, timeout: float = 60.0, interval: float = 0.1, what: str = "condition"):
    """Poll ``condition`` until it returns a truthy value or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class Cli:
    """Runs ``vcluster-ns`` in a subprocess against one --root."""

    made: list["Cli"] = []  # every one, for conftest's end-of-module sweep
    local = True  # its clusters run here, as this user (the sweep can see them)

    def __init__(self, root: Path, cluster: str = "default"):
        self.root = root
        self.cluster = cluster
        Cli.made.append(self)

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "vcluster_ns.entry", "--root", str(self.root),
                "--cluster", self.cluster, *args]

    def __call__(self, *args: str, check: bool = True, input: str | None = None,
                 timeout: float = 600) -> subprocess.CompletedProcess:
        result = subprocess.run(self.argv(*args), capture_output=True, text=True,
                                input=input, timeout=timeout,
                                stdin=None if input is not None else subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise AssertionError(
                f"vcluster-ns {' '.join(args)} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}")
        return result

    @property
    def dir(self) -> Path:
        return self.root / self.cluster

    def pid1(self) -> int | None:
        try:
            return int((self.dir / "supervisor.pid").read_text().split()[0])
        except (OSError, ValueError):
            return None

    def cluster_processes(self) -> dict[int, str]:
        """Live processes of this cluster: our own (by title) and its daemons'."""
        pid1 = self.pid1()
        found = {}
        for pid, cmd in live_processes().items():
            if cmd.startswith("vcluster-ns ") and cmd.endswith(f" {self.cluster} {self.dir}"):
                found[pid] = cmd
            elif pid1 and _in_pid_namespace_of(pid, pid1):
                found[pid] = cmd
        return found


def _in_pid_namespace_of(pid: int, pid1: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid") == os.readlink(f"/proc/{pid1}/ns/pid")
    except OSError:
        return False


def userns_available() -> bool:
    from vcluster_ns.errors import VclusterError
    from vcluster_ns.namespaces import probe_user_namespaces
    try:
        probe_user_namespaces()
        return True
    except VclusterError:
        return False


def require(condition: bool, reason: str) -> None:
    """Skip when a tier's requirement is truly absent; in CI, fail instead."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


def host_pid(pid1: int, inner: int) -> int | None:
    """The host pid of the process that is ``inner`` inside the cluster."""
    return next((host for host, status in in_pid_namespace_of(pid1)
                 if inner_pid(status) == inner), None)


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def expect_root() -> None:
    """Fail unless the suite runs as the user it claims to run as.

    The end-to-end tiers must run unprivileged (a pass as root could hide a
    reliance on real root); scripts/test's extra pass as root says so with
    VCLUSTER_NS_EXPECT_ROOT=1.
    """
    if os.environ.get("VCLUSTER_NS_EXPECT_ROOT") == "1":
        assert os.geteuid() == 0, "VCLUSTER_NS_EXPECT_ROOT=1 but not running as root"
    else:
        assert os.geteuid() != 0, (
            "the end-to-end tiers must run as an unprivileged user: a pass as root "
            "would hide a reliance on real root (scripts/test does this for you)")


def unique_name(prefix: str) -> str:
    """A cluster name of this run's own (titles then tell its processes apart)."""
    return f"{prefix}-{secrets.token_hex(3)}"


def has_title(cmd: str, cli: Cli, *roles: str) -> bool:
    """Is ``cmd`` the title of one of this cluster's own processes?"""
    roles = roles or ("launcher", "init", "supervisor")
    return any(cmd == f"vcluster-ns {r} {cli.cluster} {cli.dir}" for r in roles)


def left_over(before: HostSnapshot, *clis: Cli) -> list[str]:
    """What changed on the host, counting only these clusters' processes."""
    return before.differences(HostSnapshot.take(), owner=[c.dir for c in clis])


# What this kernel cannot give a virtual node (no CONFIG_MAGIC_SYSRQ): Ganeti
# checks /proc/sysrq-trigger for powercycle support.  Listed explicitly so
# that any other 'gnt-cluster verify' error fails a test.
KNOWN_KERNEL_ERRORS = ("missing required directory /proc/sys and the file /proc/sysrq-trigger",)


def verify_errors(cli: Cli, master: str = "node1") -> list[str]:
    out = cli("run", master, "gnt-cluster", "verify", check=False)
    lines = (out.stdout + out.stderr).splitlines()
    return [l for l in lines if "ERROR" in l
            and not any(known in l for known in KNOWN_KERNEL_ERRORS)]


# Root ignores file permissions: tests of permission errors run in the
# unprivileged pass (scripts/test runs every tier as an unprivileged user).
unprivileged_only = pytest.mark.skipif(
    os.geteuid() == 0, reason="root ignores file permissions; covered by the unprivileged pass")


# What each role runs (mond too where the build has it).
NODE_DAEMONS = {"ganeti-noded", "ganeti-confd"}
MASTER_DAEMONS = NODE_DAEMONS | {"ganeti-wconfd", "ganeti-luxid", "ganeti-rapi"}


def incomplete(cli: Cli, nodes) -> list[str]:
    """What keeps a cluster from being complete, checked without trusting
    its own judgement: status says up, Ganeti lists every node, and every
    node runs its role's daemons (empty: nothing)."""
    import json
    problems = []
    info = json.loads(cli("status", "--json").stdout)
    if info["state"] != "up":
        problems.append(f"state {info['state']}: {info.get('missing')}")
    rows = [line.split() for line in cli("run", "master", "gnt-node", "list", "--no-headers",
                                         "-o", "name,offline", check=False).stdout.splitlines()]
    listed = [row[0] for row in rows if row]
    if sorted(listed) != sorted(nodes):
        problems.append(f"gnt-node list shows {listed}")
    offline = [row[0] for row in rows if row[1:] == ["Y"]]
    if offline:  # a linear join (ganeti/join.py) brings every node back online
        problems.append(f"left offline: {offline}")
    has_mond = any(d["daemon"] == "ganeti-mond" for n in info["nodes"] for d in n["daemons"])
    for node in info["nodes"]:
        running = {d["daemon"] for d in node["daemons"] if d["state"] == "running"}
        wanted = MASTER_DAEMONS if node["role"] == "master" else NODE_DAEMONS
        wanted = wanted | ({"ganeti-mond"} if has_mond else set())
        if not wanted <= running:
            problems.append(f"{node['name']} ({node['role']}) lacks {sorted(wanted - running)}")
    return problems
