"""One owner per cluster, and the small lifecycle fixes of issue 14, on real
namespaces (clusters come up with --no-init)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import Cli, has_title, unique_name, wait_for
from hostsnap import live_processes

pytestmark = pytest.mark.namespace


def own_processes(cli: Cli) -> dict[int, str]:
    return {pid: cmd for pid, cmd in live_processes().items() if has_title(cmd, cli)}


def test_concurrent_up_of_a_new_cluster_makes_one_cluster(cli):
    procs = [subprocess.Popen(cli.argv("up", "--no-init", "--nodes", "2"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], (outs, read(cli.dir / "supervisor.log"))
    # exactly one created and started it; the others waited and found it up
    assert sum("already up" in out for out, _ in outs) == 2, outs
    assert sorted(own_processes(cli).values()) == sorted(
        f"vcluster-ns {r} {cli.cluster} {cli.dir}" for r in ("launcher", "init", "supervisor"))
    cli("down")
    assert wait_for(lambda: not cli.cluster_processes(), 60, what="no process left")


def test_concurrent_up_of_an_existing_cluster_makes_one_cluster(cli):
    cli("up", "--no-init", "--nodes", "2")
    cli("down")
    procs = [subprocess.Popen(cli.argv("up", "--no-init"), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum("already up" in out for out, _ in outs) == 1, outs
    assert len(own_processes(cli)) == 3
    cli("down")
    assert wait_for(lambda: not cli.cluster_processes(), 60, what="no process left")


def test_down_ends_a_cluster_that_no_pid_file_names(cli):
    """What a lost race made before clusters had a lock: a second cluster on
    the same directory.  down finds it by its process titles."""
    cli("up", "--no-init", "--nodes", "1")
    first = dict(own_processes(cli))
    # a second launcher on the same directory, as the unlocked 'up' started one
    (cli.dir / "supervisor.pid").unlink()
    (cli.dir / "control.sock").unlink()
    launcher = subprocess.Popen([sys.executable, "-m", "vcluster_ns.boot", str(cli.dir)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: len(own_processes(cli)) >= 6, 120, what="a second cluster")
    assert set(first) < set(own_processes(cli))
    assert "is down" in cli("down").stdout
    assert wait_for(lambda: not own_processes(cli), 60, what="both clusters gone")
    launcher.wait(timeout=60)


def test_status_shows_incomplete_with_what_is_missing(cli):
    """A cluster whose last up wanted Ganeti (init=1 in its lifecycle record)
    but whose master is not initialised: an up that was cut before init."""
    cli("up", "--no-init", "--nodes", "1")
    assert json.loads(cli("status", "--json").stdout)["state"] == "up"  # as --no-init wanted
    record = cli.dir / "lifecycle"
    words = record.read_text().split()
    assert words[0] == "up" and "init=0" in words
    record.write_text("up 1 init=1\n")  # what an up without --no-init records
    info = json.loads(cli("status", "--json").stdout)
    assert info["state"] == "incomplete", info
    assert info["missing"] == ["Ganeti is not initialised"]
    out = cli("status").stdout
    assert "incomplete" in out and "missing: Ganeti is not initialised" in out
    # up --no-init asks for nothing more: it is up as far as it is concerned
    assert "already up" in cli("up", "--no-init").stdout


def test_the_last_hint_of_up_reaches_the_same_cluster(cli):
    """Following 'try: ...' must work: for a cluster other than the default
    (and another --root) the hint repeats --root and --cluster."""
    out = cli("up", "--no-init", "--nodes", "1").stdout
    hint = out.strip().splitlines()[-1].split("try: ", 1)[1]
    assert hint == (f"vcluster-ns --root {cli.root} --cluster {cli.cluster} "
                    "run node1 gnt-node list")
    # followed as typed, with 'true' for 'gnt-node list' (no Ganeti here)
    argv = [sys.executable, "-m", "vcluster_ns.entry", *shlex.split(hint)[1:-2], "true"]
    assert subprocess.run(argv, stdin=subprocess.DEVNULL).returncode == 0


def test_run_of_a_file_that_is_not_executable_exits_126(cli):
    cli("up", "--no-init", "--nodes", "1")
    result = cli("run", "node1", "/etc/hosts", check=False)
    assert result.returncode == 126, result
    assert cli("run", "node1", "/no/such/program", check=False).returncode == 127


def test_temporary_files_land_in_the_cluster_directory(cli):
    """/tmp stays the host's (see mounts.py), but TMPDIR points into the
    cluster: mktemp, Python's tempfile and Ganeti's utils.io write there."""
    cli("up", "--no-init", "--nodes", "2")
    made = cli("run", "node1", "mktemp").stdout.strip()
    assert made.startswith(str(cli.dir / "tmp") + "/"), made
    assert Path(made).exists()
    # every node of the cluster shares it
    assert cli("run", "node2", "sh", "-c", 'echo "$TMPDIR"').stdout.strip() == str(cli.dir / "tmp")


def test_kill_on_a_stopped_node_fails(cli):
    cli("up", "--no-init", "--nodes", "1", "--network-mode", "isolated")
    cli("node", "stop", "node1")
    result = cli("kill", "node1", "noded", check=False)
    assert result.returncode == 1 and "not running on node1" in result.stderr, result
    assert "Traceback" not in result.stderr


def test_net_commands_do_not_need_sbin_on_the_path(cli):
    cli("up", "--no-init", "--nodes", "2", "--network-mode", "isolated")
    env = {**os.environ, "PATH": "/usr/bin:/bin"}

    def run(*args):
        return subprocess.run(cli.argv(*args), env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
    cli("down")
    # started with a PATH without /usr/sbin, as an ordinary Debian user's
    up = subprocess.run(cli.argv("up", "--no-init"), env=env, capture_output=True, text=True,
                        stdin=subprocess.DEVNULL, timeout=300)
    assert up.returncode == 0, up
    delay = run("net", "delay", "node2", "50ms")
    # 4: this kernel has no netem; never "FileNotFoundError" (exit 1)
    assert delay.returncode in (0, 4), delay
    assert "FileNotFoundError" not in delay.stderr and "not installed" not in delay.stderr
    assert run("net", "partition", "node2").returncode == 0
    heal = run("net", "heal")
    assert heal.returncode == 0, heal
    info = json.loads(cli("status", "--json").stdout)
    assert not any(n.get("faults") for n in info["nodes"])


def test_up_as_root_with_the_default_root(tmp_path):
    """The README's first command as root: the cluster directory lies below
    /root, which the cluster's private /root covers (issue 14, item 3)."""
    if os.geteuid() != 0:
        pytest.skip("only root's default root lies below /root")
    name = unique_name("rootdef")
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_DATA_HOME", "VCLUSTER_NS_ROOT")}
    env["HOME"] = "/root"
    home_root = Path("/root/.local/share/vcluster-ns")
    cli = Cli(home_root, name)

    def vcn(*args, check=True):
        result = subprocess.run([sys.executable, "-m", "vcluster_ns.entry", "--cluster", name,
                                 *args], env=env, capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, timeout=300)
        assert not check or result.returncode == 0, result
        return result
    try:
        vcn("up", "--no-init", "--nodes", "2")
        assert cli.dir.is_dir()
        assert vcn("run", "node1", "cat", str(cli.dir / "cluster.json")).stdout
        # the node's /root is the cluster's private one, not the host's
        vcn("run", "node1", "touch", "/root/vcluster-ns-probe")
        assert not Path("/root/vcluster-ns-probe").exists()
        assert (cli.dir / "private/root/vcluster-ns-probe").exists()
    finally:
        vcn("destroy", "--yes", check=False)
    assert not cli.dir.exists()


def read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        return str(exc)
