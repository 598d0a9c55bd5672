"""An interrupted ``up`` finishes: SIGKILL or SIGINT of ``up`` at chosen
points (picked from its progress lines, never by sleeping), then ``up`` once
more gives a whole cluster, or the one-line recovery message."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from helpers import Cli, unique_name, verify_errors, wait_for

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


def members(cli: Cli) -> set[str]:
    out = cli("run", "master", "gnt-node", "list", "--no-headers", "-o", "name", check=False)
    return set(out.stdout.split())


@pytest.fixture
def cli(tmp_path):
    cli = Cli(tmp_path / "clusters", unique_name("lc"))
    yield cli
    if cli.pid1():
        cli("down", check=False)


def test_sigkill_of_up_during_node_adds_then_up_finishes(cli):
    interrupt_up_at(cli, "gnt-node add node", signal.SIGKILL, "--nodes", "3")
    info = json.loads(cli("status", "--json").stdout)
    assert info["state"] in ("incomplete", "up"), info
    if info["state"] == "incomplete":
        assert info["missing"], info
    again = cli("up")
    assert "already up" not in again.stdout or info["state"] == "up"
    assert members(cli) == {"node1", "node2", "node3"}
    assert json.loads(cli("status", "--json").stdout)["state"] == "up"
    assert verify_errors(cli) == []
    assert "already up" in cli("up").stdout  # now it is whole


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_interrupted_init_then_up_finishes_or_names_the_recovery(cli, signum):
    interrupt_up_at(cli, "gnt-cluster init on", signum, "--nodes", "2")
    again = cli("up", check=False)
    if again.returncode != 0:
        # init cut halfway: one line that names the command that recovers
        lines = again.stderr.strip().splitlines()
        assert lines[-1].startswith("Error: gnt-cluster init on node1 was interrupted"), lines
        assert "destroy --yes" in lines[-1] and "Traceback" not in again.stderr
        cli("destroy", "--yes")
        cli("up", "--nodes", "2")
    assert members(cli) == {"node1", "node2"}
    assert verify_errors(cli) == []


def test_sigkill_of_up_before_init_then_up_finishes(cli):
    interrupt_up_at(cli, "starting namespaces and supervisor", signal.SIGKILL, "--nodes", "2")
    # the launcher it started goes on booting: the next up must neither start
    # a second cluster nor say "already up" to an uninitialised one
    again = cli("up")
    assert "already up" not in again.stdout
    assert members(cli) == {"node1", "node2"}
    assert len([p for p, cmd in cli.cluster_processes().items()
                if cmd == f"vcluster-ns init {cli.cluster} {cli.dir}"]) == 1
    cli("down")
    assert wait_for(lambda: not cli.cluster_processes(), 60, what="nothing left after down")
