"""Load: many commands at once, many in a row, two clusters side by side.

Clusters get names of their own (``unique_name``) so that their titled
processes cannot be confused with another cluster running on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess


from helpers import Cli, has_title, left_over, unique_name, wait_for
from hostsnap import HostSnapshot, in_pid_namespace_of
from vcluster_ns.cluster import VirtualCluster









def titled(cli: Cli, role: str) -> int:
    return next(pid for pid, cmd in cli.cluster_processes().items()
                if has_title(cmd, cli, role))


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def zombies(cli: Cli) -> list[str]:
    """Zombie processes inside the cluster's pid namespace."""
    found = []
    for host, status in in_pid_namespace_of(cli.pid1()):
        state = next(l for l in status.splitlines() if l.startswith("State:"))
        if "Z" in state.split()[1]:
            found.append(f"{host}: {status.splitlines()[0]}")
    return found


def test_fifty_concurrent_runs_all_succeed(cli: Cli):
    cli("up", "--no-init", "--nodes", "1")
    steady = set(cli.cluster_processes())
    procs = [subprocess.Popen(cli.argv("run", "node1", "true"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for i in range(50)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append((proc.returncode, err))
    failures = [r for r in results if r[0] != 0]
    assert failures == [], failures[:5]
    # Nothing of the fifty stays behind inside the cluster.
    wait_for(lambda: set(cli.cluster_processes()) == steady, 30,
             what="the cluster to be back to its own processes")
    assert zombies(cli) == []


def test_two_hundred_runs_leak_no_fd_and_no_zombie(cli: Cli):
    cli("up", "--no-init", "--nodes", "1")
    vc = VirtualCluster(cli.cluster, cli.root)
    pid1 = cli.pid1()
    supervisor = titled(cli, "supervisor")
    # Warm up: the first command and control request may open lasting fds.
    vc.run("node1", "true")
    vc.status()
    baseline = {"pid1": fd_count(pid1), "supervisor": fd_count(supervisor),
                "self": fd_count(os.getpid())}
    zombies_before = zombies(cli)
    for i in range(200):
        if i % 10 == 0:
            # An orphan: the background 'sleep' outlives its shell and is
            # reparented to the cluster's init, which must reap it.
            argv = ["sh", "-c", "sleep 0.05 >/dev/null 2>&1 & exit 0"]
        else:
            argv = ["true"]
        result = vc.run("node1", *argv)
        assert result.returncode == 0, (i, result.stderr)
        if i % 4 == 0:
            # The supervisor's control socket under the same load.
            assert vc.status()["state"] == "up"
    after = {"pid1": fd_count(pid1), "supervisor": fd_count(supervisor),
             "self": fd_count(os.getpid())}
    for who, count in after.items():
        assert count <= baseline[who] + 2, (who, baseline, after)
    # The last orphans may still sleep; then init has reaped them all.
    wait_for(lambda: len(zombies(cli)) <= len(zombies_before), 30,
             what="init to reap every orphan")
    assert zombies(cli) == zombies_before == []
    assert cli.pid1() == pid1


def test_two_clusters_side_by_side(tmp_path):
    before = HostSnapshot.take()
    root = tmp_path / "clusters"
    a, b = Cli(root, unique_name("a")), Cli(root, unique_name("b"))
    try:
        a("up", "--no-init", "--nodes", "2")
        b("up", "--no-init", "--nodes", "2")
        for cli in (a, b):  # the same addresses, each on its own switch
            addresses = cli("run", "node2", "ip", "-o", "-4", "addr").stdout
            assert "192.0.2.11/24" in addresses
            assert cli("run", "node1", "bash", "-c", "echo > /dev/tcp/192.0.2.11/22",
                       check=False).returncode == 0
        # Separate pid (and network) namespaces.
        for kind in ("pid", "net", "user"):
            assert os.readlink(f"/proc/{a.pid1()}/ns/{kind}") != \
                os.readlink(f"/proc/{b.pid1()}/ns/{kind}"), kind
        # A file of a's node1 is not visible to b's node1.
        a("run", "node1", "touch", "/srv/ganeti/file-storage/made-in-a")
        assert "made-in-a" in a("run", "node1", "ls", "/srv/ganeti/file-storage").stdout
        assert "made-in-a" not in b("run", "node1", "ls", "/srv/ganeti/file-storage").stdout
        assert not list((b.dir / "node1" / "file-storage").iterdir())
        # b's processes as they were, to check that 'down a' leaves them alone.
        b_processes = b.cluster_processes()
        b_pid1 = b.pid1()
        a("down")
        wait_for(lambda: not a.cluster_processes(), 30, what="a's processes to end")
        assert b.pid1() == b_pid1
        assert json.loads(b("status", "--json").stdout)["state"] == "up"
        assert set(b.cluster_processes()) == set(b_processes)
        assert b("run", "node2", "sh", "-c", "echo $GANETI_HOSTNAME").stdout == "node2\n"
        b("down")
        wait_for(lambda: not b.cluster_processes(), 30, what="b's processes to end")
    finally:
        for cli in (a, b):
            if cli.pid1():
                cli("down", check=False)
    wait_for(lambda: not left_over(before, a, b), 30, what="the host to look as before")
    assert left_over(before, a, b) == []


def test_a_command_that_overruns_its_timeout_is_stopped_inside_the_cluster(cli: Cli,
                                                                           monkeypatch):
    from vcluster_ns import enter
    monkeypatch.setattr(enter, "STOP_GRACE", 2.0)
    cli("up", "--no-init", "--nodes", "1")
    vc = VirtualCluster(cli.cluster, cli.root)
    steady = set(cli.cluster_processes())
    # The first ignores SIGTERM (the bridge forwards it): SIGKILL after the grace.
    for script in ("echo started; exec sleep 600", "trap '' TERM; echo started; sleep 600"):
        result = vc.run("node1", "sh", "-c", script, timeout=1)
        assert result.returncode == enter.TIMED_OUT, result
        assert result.stdout == "started\n"
        assert result.stderr.endswith("vcluster-ns: sh stopped after running 1s\n")
        wait_for(lambda: set(cli.cluster_processes()) == steady, 30,
                 what="the stopped command to be gone from the cluster")
