"""An interrupted ``up`` finishes: SIGKILL or SIGINT of ``up`` at chosen
points (picked from its progress lines and the files init writes, never by
sleeping), then ``up`` once more gives a whole cluster, or the one-line
recovery message; two ``up`` at once give one cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from helpers import Cli, incomplete, unique_name, verify_errors, wait_for

pytestmark = pytest.mark.ganeti


def interrupt_up_at(cli: Cli, marker: str, signum: int, *args: str) -> str:
    """Start ``up``, send ``signum`` once a progress line contains ``marker``."""
    proc = subprocess.Popen(cli.argv("up", *args), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if marker in line:
                proc.send_signal(signum)
                break
        else:
            raise AssertionError(f"up ended before {marker!r}: {''.join(seen)}")
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return "".join(seen)


def interrupt_up_when(cli: Cli, condition, signum: int, *args: str) -> None:
    """Start ``up``, send ``signum`` as soon as ``condition()`` holds."""
    with open(cli.root.parent / "up.err", "w") as err:
        proc = subprocess.Popen(cli.argv("up", *args), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    try:
        wait_for(lambda: condition() or proc.poll() is not None, 300, 0.01, "the moment")
        assert proc.poll() is None, (cli.root.parent / "up.err").read_text()
        proc.send_signal(signum)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def interrupt_group_when(cli: Cli, condition, *args: str) -> None:
    """Start ``up`` in a process group of its own and, as soon as
    ``condition()`` holds, send SIGINT to the whole group, as a terminal's
    Ctrl-C does (Ganeti's commands that up runs get it too)."""
    with open(cli.root.parent / "up.err", "w") as err:
        proc = subprocess.Popen(cli.argv("up", *args), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        wait_for(lambda: condition() or proc.poll() is not None, 300, 0.01, "the moment")
        assert proc.poll() is None, (cli.root.parent / "up.err").read_text()
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def members(cli: Cli) -> set[str]:
    out = cli("run", "master", "gnt-node", "list", "--no-headers", "-o", "name", check=False)
    return set(out.stdout.split())


@pytest.fixture
def cli(tmp_path_factory):
    # a short root: Ganeti's unix sockets lie below every node's directory
    cli = Cli(tmp_path_factory.mktemp("lc") / "c", unique_name("lc"))
    yield cli
    cli("destroy", "--yes", check=False)  # disk space: these clusters serve one test


def test_sigkill_of_up_during_node_adds_then_up_finishes(cli):
    """The issue's case: killed right after the first add of five (-v gives a
    line per add); the other adds' jobs run on in Ganeti.  The next up must
    not say "up" before every node runs its daemons (it once left a node
    without confd)."""
    nodes = {f"node{i}" for i in range(1, 6)}
    interrupt_up_at(cli, "gnt-node add node", signal.SIGKILL, "--nodes", "5", "-v")
    info = json.loads(cli("status", "--json").stdout)
    assert info["state"] in ("incomplete", "up"), info
    if info["state"] == "incomplete":
        assert info["missing"], info
    again = cli("up")
    assert "already up" not in again.stdout or info["state"] == "up"
    assert incomplete(cli, nodes) == []
    assert members(cli) == nodes
    assert verify_errors(cli) == []
    assert "already up" in cli("up").stdout  # now it is whole
    # the same whole cluster serves the checks of 'logs' and 'run master'
    for daemon, base in (("noded", "node-daemon"), ("confd", "conf-daemon"),
                         ("wconfd", "wconf-daemon"), ("luxid", "luxi-daemon"),
                         ("rapi", "rapi-daemon"), ("mond", "monitoring-daemon")):
        out = cli("logs", "node1", daemon).stdout
        assert f"/var/log/ganeti/{base}.log <==" in out, (daemon, out)
    assert "node-daemon.log <==" in cli("logs", "node3", "noded").stdout
    assert cli("run", "master", "gnt-instance", "list").returncode == 0
    # vcluster-setup's per-node helper, run from the host, gets the hint too
    helper = subprocess.run([str(cli.dir / "node2/cmd"), "gnt-node list"], capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert helper.returncode != 0 and "This is not the master node" in helper.stderr
    assert "hint: node2 is not the master; " in helper.stderr
    assert "run master gnt-node list' runs it on the master" in helper.stderr
    refused = cli("run", "node2", "gnt-instance", "list", check=False)
    assert refused.returncode != 0 and "This is not the master node" in refused.stderr
    # The hint reaches this cluster: it repeats --root and --cluster.
    assert refused.stderr.strip().splitlines()[-1].startswith(
        f"hint: node2 is not the master; 'vcluster-ns --root {cli.root} --cluster "
        f"{cli.cluster} run master gnt-instance list'")


@pytest.mark.parametrize("written,signum", [
    pytest.param("config.data", signal.SIGKILL, id="config-sigkill"),
    pytest.param("server.pem", signal.SIGINT, id="certificates-ctrl-c"),
])
def test_an_init_cut_short_is_redone_by_the_next_up(cli, written, signum):
    """The cut that init itself cannot redo ("Cluster is already initialised"),
    once config.data exists, or once its certificates are being written (the
    issue's Ctrl-C: confd then lacks hmac.key, wconfd never became ready and
    up waited 90 s).  status says so, and the next up clears what that init
    wrote and runs it afresh: never resumed, never a 90 s wait."""
    made = cli.dir / "node1/var/lib/ganeti" / written
    if signum == signal.SIGINT:  # a terminal's Ctrl-C reaches the whole group
        interrupt_group_when(cli, made.exists, "--nodes", "2")
    else:
        interrupt_up_when(cli, made.exists, signum, "--nodes", "2")
    info = json.loads(cli("status", "--json").stdout)
    print("after the cut:", info["state"], info.get("missing"))
    if info["state"] == "incomplete":
        assert info["missing"] == ["Ganeti's init was interrupted"], info
        assert cli("status").stdout.count("'vcluster-ns") == 1  # the one command that finishes
    again = cli("up", check=False)
    assert again.returncode == 0, again.stderr
    assert "did not become ready" not in again.stderr
    if info["state"] == "incomplete":
        assert "was interrupted: starting it afresh" in again.stderr, again.stderr
    assert incomplete(cli, {"node1", "node2"}) == []
    assert verify_errors(cli) == []


def test_sigkill_before_init_then_sigint_during_init_then_up_finishes(cli):
    interrupt_up_at(cli, "starting namespaces and supervisor", signal.SIGKILL, "--nodes", "2")
    # The launcher it started goes on booting.  The next up must neither
    # start a second cluster nor call an uninitialised one "already up":
    # it is interrupted in turn (SIGINT, as Ctrl-C) when its init starts.
    seen = interrupt_up_at(cli, "gnt-cluster init on", signal.SIGINT)
    assert "already up" not in seen
    # Then two up at once: one finishes the cluster, the other waits for it
    # and finds it whole.
    procs = [subprocess.Popen(cli.argv("up"), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    if any(p.returncode != 0 for p in procs):
        last = [err.strip().splitlines()[-1] for _, err in outs if err.strip()]
        assert all("destroy --yes" in line for line in last), outs
        print("recovery message:", last[0])
        cli("destroy", "--yes")
        cli("up", "--nodes", "2")
    else:
        assert sum("already up" in out for out, _ in outs) == 1, outs
    assert members(cli) == {"node1", "node2"}
    assert verify_errors(cli) == []
    # one cluster: one pid 1, one supervisor, one set of Ganeti daemons
    processes = cli.cluster_processes().values()
    for title in ("init", "supervisor"):
        assert sum(cmd == f"vcluster-ns {title} {cli.cluster} {cli.dir}"
                   for cmd in processes) == 1, title
    assert sum("ganeti-confd" in cmd for cmd in processes) == 2  # noded forks per request
    assert sum("ganeti-wconfd" in cmd for cmd in processes) == 1
    cli("down")
    assert wait_for(lambda: not cli.cluster_processes(), 60, what="nothing left after down")
