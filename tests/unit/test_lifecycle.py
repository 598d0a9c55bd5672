"""lifecycle.py: the cluster lock, the phase record, states; and the small
fixes of issue 14 that need no namespaces."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from vcluster_ns import ganeti, lifecycle
from vcluster_ns.cli import main
from vcluster_ns.cluster import VirtualCluster
from vcluster_ns.roots import default_root, root_option
from vcluster_ns.errors import InvalidInput
from vcluster_ns.spec import ClusterSpec

HOLD = """
import sys, time
from pathlib import Path
from vcluster_ns.lifecycle import ClusterLock
lock = ClusterLock(Path(sys.argv[1]), "c1")
lock.acquire(on_wait=lambda pid: print("waiting", pid, flush=True))
print("held", flush=True)
if sys.argv[2] == "release":
    lock.release()
    print("released", flush=True)
time.sleep(600)
"""


def holder(root: Path, mode: str = "keep") -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root), mode],
                            stdout=subprocess.PIPE, text=True)
    return proc


def wait_line(proc: subprocess.Popen, want: str) -> str:
    line = proc.stdout.readline().strip()
    assert line.startswith(want), line
    return line


def test_a_second_owner_waits_names_the_holder_and_gets_the_lock_when_it_dies(tmp_path):
    first = holder(tmp_path)
    try:
        wait_line(first, "held")
        lock = lifecycle.ClusterLock(tmp_path, "c1")
        assert lock.holder() == first.pid
        second = holder(tmp_path)
        try:
            assert wait_line(second, "waiting") == f"waiting {first.pid}"
            first.send_signal(signal.SIGKILL)  # the kernel drops its flock
            first.wait()
            wait_line(second, "held")
            assert lock.holder() == second.pid
        finally:
            second.kill()
            second.wait()
        assert lock.holder() is None
    finally:
        first.kill()
        first.wait()


def test_a_waiter_relocks_when_the_holder_removes_the_lock_file(tmp_path):
    lock = lifecycle.ClusterLock(tmp_path, "c1")
    lock.acquire()
    waiter = holder(tmp_path)
    try:
        wait_line(waiter, "waiting")
        lock.release()  # unlinks the file, then lets go
        wait_line(waiter, "held")
        # the waiter holds the lock of the file that now exists, not of the
        # unlinked one: a third owner must wait for it
        assert lifecycle.lock_path(tmp_path, "c1").exists()
        assert lifecycle.ClusterLock(tmp_path, "c1").holder() == waiter.pid
    finally:
        waiter.kill()
        waiter.wait()
    # a holder that lets go leaves no file; one that was killed leaves it unlocked
    assert lifecycle.ClusterLock(tmp_path, "c1").holder() is None
    again = lifecycle.ClusterLock(tmp_path, "c1")
    again.acquire()
    again.release()
    assert not lifecycle.lock_path(tmp_path, "c1").exists()


def test_the_lock_is_not_inherited_by_children(tmp_path):
    lock = lifecycle.ClusterLock(tmp_path, "c1")
    lock.acquire()
    child = subprocess.Popen(["sleep", "600"], close_fds=False)
    try:
        lock.release()
        assert lifecycle.ClusterLock(tmp_path, "c1").holder() is None
    finally:
        child.kill()
        child.wait()


def test_phase_record_round_trip(tmp_path):
    assert lifecycle.read_phase(tmp_path) is None
    lifecycle.set_phase(tmp_path, lifecycle.JOINING, init=1)
    assert lifecycle.read_phase(tmp_path) == ("joining", os.getpid(), {"init": "1"})
    lifecycle.clear_phase(tmp_path)
    assert lifecycle.read_phase(tmp_path) is None


def make_cluster(root: Path, name: str = "c1") -> VirtualCluster:
    (root / name).mkdir(parents=True)
    ClusterSpec(name=name, nodes=2).save(root / name / "cluster.json")
    return VirtualCluster(name, root)


def test_states_of_a_cluster_that_is_not_running(tmp_path):
    vc = VirtualCluster("c1", tmp_path)
    assert vc.state() == ("absent", [])
    vc = make_cluster(tmp_path)
    assert vc.state() == ("created", [])
    lifecycle.set_phase(vc.paths.dir, lifecycle.DOWN)
    assert vc.state() == ("down", [])
    # an interrupted phase whose writer is gone is history, not the state
    lifecycle.set_phase(vc.paths.dir, lifecycle.INITIALISING, init=1)
    assert vc.state() == ("down", [])
    assert vc.status()["state"] == "down"


def test_a_phase_shows_while_its_writer_holds_the_lock(tmp_path):
    vc = make_cluster(tmp_path)
    proc = holder(tmp_path)
    try:
        wait_line(proc, "held")
        lifecycle.set_phase(vc.paths.dir, lifecycle.BOOTING, init=1)
        assert vc.state() == ("booting", [])
        assert vc.status()["state"] == "booting"
    finally:
        proc.kill()
        proc.wait()


def test_cluster_names_whose_host_name_is_too_long_are_refused_up_front():
    # boot.py names the cluster's UTS namespace vcluster-<name>: 64 bytes at most
    root = Path("/tmp/vc-r")  # short: the socket path check must not come first
    VirtualCluster("a" * 55, root)
    for length in (56, 63):
        with pytest.raises(InvalidInput, match="host name vcluster-a+ would exceed 64"):
            VirtualCluster("a" * length, root)


def test_empty_root_is_refused_and_relative_xdg_data_home_ignored(monkeypatch, tmp_path):
    with pytest.raises(InvalidInput, match="--root is empty"):
        root_option("")
    assert root_option(None) is None
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")
    assert default_root() == tmp_path / ".local/share/vcluster-ns"
    monkeypatch.setenv("XDG_DATA_HOME", "/abs")
    assert default_root() == Path("/abs/vcluster-ns")
    result = CliRunner().invoke(main, ["--root", "", "status"])
    assert result.exit_code == 2 and "--root is empty" in result.output


def test_destroy_without_a_terminal_needs_yes(tmp_path):
    make_cluster(tmp_path)
    result = CliRunner().invoke(main, ["--root", str(tmp_path), "--cluster", "c1", "destroy"])
    assert result.exit_code == 2 and "pass --yes" in result.output
    assert (tmp_path / "c1" / "cluster.json").exists()


def test_destroy_of_an_unremovable_directory_is_one_line(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root removes what it likes")
    vc = make_cluster(tmp_path)
    os.chmod(vc.paths.dir, 0o500)  # the case: cluster.json cannot be unlinked
    try:
        result = CliRunner().invoke(main, ["--root", str(tmp_path), "--cluster", "c1",
                                           "destroy", "--yes"])
    finally:
        os.chmod(vc.paths.dir, 0o700)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: cannot remove {vc.paths.dir}: Permission denied")
    assert len(result.output.splitlines()) == 1 and "Traceback" not in result.output
    assert not lifecycle.lock_path(tmp_path, "c1").exists()


def test_ganeti_log_files_of_every_daemon(tmp_path):
    vc = make_cluster(tmp_path)
    node = vc.nodes[0]
    logdir = vc.paths.node_root(node) / "var/log/ganeti"
    logdir.mkdir(parents=True)
    vc.paths.node_log_dir(node).mkdir(parents=True)
    names = {"noded": "node-daemon", "confd": "conf-daemon", "wconfd": "wconf-daemon",
             "luxid": "luxi-daemon", "mond": "monitoring-daemon", "metad": "meta-daemon",
             "rapi": "rapi-daemon"}
    for base in names.values():
        (logdir / f"{base}.log").write_text("x\n")
    (vc.paths.node_log_dir(node) / "ganeti-noded.log").write_text("out\n")
    for daemon, base in names.items():
        files = vc.logs("node1", daemon)
        assert logdir / f"{base}.log" in files, daemon
    assert vc.logs("node1", "noded")[0].name == "ganeti-noded.log"
    with pytest.raises(InvalidInput, match="unknown daemon"):
        vc.logs("node1", "nosuchd")


def test_not_master_hint(tmp_path, monkeypatch):
    vc = make_cluster(tmp_path)
    monkeypatch.setattr(type(vc), "master", property(lambda self: "node1"))
    hint = vc.not_master_hint("node2", ["gnt-instance", "list"], 1)
    assert hint and (f"vcluster-ns --root {tmp_path} --cluster c1 run master gnt-instance list"
                     in hint)
    assert vc.not_master_hint("node1", ["gnt-instance", "list"], 1) is None
    assert vc.not_master_hint("node2", ["gnt-instance", "list"], 0) is None
    assert vc.not_master_hint("node2", ["ls"], 1) is None
    # <cluster>/node2/cmd runs 'bash -c "$*"': the hint names the Ganeti command
    hint = vc.not_master_hint("node2", ["/bin/bash", "-c", "gnt-node list -o name"], 1)
    assert hint and "run master gnt-node list -o name'" in hint
    assert vc.not_master_hint("node2", ["/bin/bash", "-c", "ls /"], 1) is None
    assert vc.resolve_node("master") == "node1"


def test_processes_by_title_finds_only_this_cluster(tmp_path):
    title = f"vcluster-ns init c1 {tmp_path / 'c1'}"
    other = f"vcluster-ns init c1 {tmp_path / 'c2'}"
    procs = [subprocess.Popen([sys.executable, "-c",
                               "import prctl, sys, time; prctl.set_proctitle(sys.argv[1]);"
                               "print(1, flush=True); time.sleep(600)", t],
                              stdout=subprocess.PIPE) for t in (title, other)]
    try:
        for p in procs:
            p.stdout.readline()
        found = lifecycle.processes_by_title("c1", tmp_path / "c1")
        assert found == {procs[0].pid: "init"}
        assert lifecycle.kill_strays("c1", tmp_path / "c1") == [procs[0].pid]
        assert procs[0].wait(timeout=10) == -signal.SIGKILL
        assert procs[1].poll() is None
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_ganeti_log_bases_match_the_installed_ganeti():
    """The table in ganeti/daemons.py against Ganeti's own constants, where present."""
    import glob
    trees = sorted(glob.glob("/usr/share/ganeti/*/ganeti/constants.py"))
    if not trees:
        pytest.skip("Ganeti is not installed")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from ganeti import constants as c;"
            "b = dict(c.DAEMONS_LOGBASE); [print(d, n) for d, n in b.items()];"
            "[print(d, n) for d, e in c.DAEMONS_EXTRA_LOGBASE.items() for n in e.values()]")
    out = subprocess.run(["python3", "-c", code, str(Path(trees[-1]).parent.parent)],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        daemon, base = line.split()
        if daemon in ganeti.ALL_DAEMONS:
            assert base in ganeti.LOG_BASES[daemon], (daemon, base)
