"""A cluster without Ganeti: namespaces, addresses, mounts, shims, teardown."""

from __future__ import annotations

import os
import signal

from helpers import Cli, expect_root, wait_for
from hostsnap import HostSnapshot


def test_up_as_non_root_leaves_the_host_untouched(cli: Cli):
    before = HostSnapshot.take()
    cli("up", "--no-init", "--nodes", "3")
    pid1 = cli.pid1()
    assert pid1

    # Rootless truth: the cluster runs as the test user, in its own user
    # namespace, so it has no capability over the host's.
    status = open(f"/proc/{pid1}/status").read()
    uid_line = next(l for l in status.splitlines() if l.startswith("Uid:"))
    assert uid_line.split()[1:] == [str(os.getuid())] * 4
    expect_root()
    assert os.readlink(f"/proc/{pid1}/ns/user") != os.readlink("/proc/self/ns/user")

    # Isolated (the default): node1 holds its own address only.
    addresses = cli("run", "node1", "ip", "-o", "-4", "addr", "show").stdout
    assert "192.0.2.10/24" in addresses and "192.0.2.11" not in addresses
    hosts = cli("run", "node2", "cat", "/etc/hosts").stdout
    assert "192.0.2.11\tnode2" in hosts and "192.0.2.1\tcluster" in hosts
    # No public CAs inside (Ganeti trusts its own; libcurl would parse them all
    # for every RPC connection), while the host keeps its own.
    assert cli("run", "node1", "ls", "-A", "/etc/ssl/certs").stdout == ""

    during = HostSnapshot.take()
    assert not [d for d in before.differences(during, owner=cli.dir) if not d.startswith("processes")]

    cli("down")
    assert cli.pid1() is None
    wait_for(lambda: not cli.cluster_processes(), 30, what="cluster processes to end")
    assert before.differences(HostSnapshot.take(), owner=cli.dir) == []


def test_sigkill_of_the_supervisor_ends_everything(cli: Cli):
    before = HostSnapshot.take()
    cli("up", "--no-init", "--nodes", "2")
    # A long-running command inside, as a stand-in for any daemon.
    pid1 = cli.pid1()
    assert cli.cluster_processes()
    os.kill(pid1, signal.SIGKILL)
    wait_for(lambda: not cli.cluster_processes(), 30, what="cluster processes to end")
    # The next command recognises the stale state.
    status = cli("status")
    assert "down" in status.stdout
    assert cli("run", "node1", "true", check=False).returncode == 5
    wait_for(lambda: not before.differences(HostSnapshot.take(), owner=cli.dir), 30,
             what="host to look as before")
    # And the cluster comes back.
    cli("up", "--no-init")
    assert cli("run", "node1", "true").returncode == 0


def test_run_passes_status_stdin_and_node_identity(cli: Cli):
    cli("up", "--no-init", "--nodes", "2")
    assert cli("run", "node1", "sh", "-c", "exit 7", check=False).returncode == 7
    assert cli("run", "node2", "cat", input="hello\n").stdout == "hello\n"
    env = cli("run", "node2", "sh", "-c", 'echo "$GANETI_HOSTNAME $GANETI_ROOTDIR"').stdout
    assert env.split() == ["node2", str(cli.dir / "node2")]
    missing = cli("run", "node1", "no-such-program-here", check=False)
    assert missing.returncode == 127 and "no-such-program-here" in missing.stderr
    unknown = cli("run", "node9", "true", check=False)
    assert unknown.returncode == 2 and "unknown node" in unknown.stderr


def test_etc_hosts_can_be_replaced_by_rename(cli: Cli):
    host_hosts = open("/etc/hosts", "rb").read()
    cli("up", "--no-init", "--nodes", "1")
    cli("run", "node1", "sh", "-c",
        'cp /etc/hosts "$TMPDIR/h" && echo "192.0.2.99 extra" >> "$TMPDIR/h" '
        '&& mv "$TMPDIR/h" /etc/hosts')
    assert "extra" in cli("run", "node1", "cat", "/etc/hosts").stdout
    assert open("/etc/hosts", "rb").read() == host_hosts


def test_file_storage_is_private_to_each_node(cli: Cli):
    cli("up", "--no-init", "--nodes", "2")
    cli("run", "node1", "touch", "/srv/ganeti/file-storage/only-on-node1")
    assert "only-on-node1" in cli("run", "node1", "ls", "/srv/ganeti/file-storage").stdout
    assert "only-on-node1" not in cli("run", "node2", "ls", "/srv/ganeti/file-storage").stdout
    assert (cli.dir / "node1" / "file-storage" / "only-on-node1").exists()


def test_ssh_and_scp_shims_reach_the_other_node(cli: Cli):
    cli("up", "--no-init", "--nodes", "2")
    out = cli("run", "node1", "ssh", "-o", "StrictHostKeyChecking=no", "-p", "22",
              "root@node2", "echo", "$GANETI_HOSTNAME").stdout
    assert out.strip() == "node2"
    unknown = cli("run", "node1", "ssh", "nowhere", "true", check=False)
    assert unknown.returncode == 255 and "Could not resolve hostname nowhere" in unknown.stderr
    cli("run", "node1", "sh", "-c",
        'echo payload > "$TMPDIR/f" && scp -p "$TMPDIR/f" node2:/srv/ganeti/file-storage/f')
    assert cli("run", "node2", "cat", "/srv/ganeti/file-storage/f").stdout == "payload\n"
    assert cli("run", "node1", "test", "-e", "/srv/ganeti/file-storage/f",
               check=False).returncode == 1
    # A copy onto itself succeeds, as Ganeti expects when it distributes files.
    cli("run", "node1", "sh", "-c", 'echo x > "$TMPDIR/g" && scp "$TMPDIR/g" node1:"$TMPDIR/g"')


def test_power_operations_are_refused_at_every_door(cli: Cli):
    cli("up", "--no-init", "--nodes", "1")
    refused = cli("run", "node1", "reboot", check=False)
    assert refused.returncode == 3 and "reboot" in refused.stderr
    assert cli("shell", "-c", "true; poweroff -f", check=False).returncode == 3
    # A road around the CLI's policy meets the shim inside the namespace.
    shim = cli("run", "node1", "python3", "-c",
               "import subprocess, sys; sys.exit(subprocess.run(['reboot', '-n', '-f']).returncode)",
               check=False)
    assert shim.returncode == 3 and "refused" in shim.stderr
    assert cli("run", "node1", "true").returncode == 0
    wait_for(lambda: "REFUSED" in (cli.dir / "supervisor.log").read_text(), 10,
             what="the refusal in the supervisor log")


def test_vcluster_setup_helper_scripts_work_through_vcluster_ns(cli: Cli):
    cli("up", "--no-init", "--nodes", "2")
    import subprocess
    out = subprocess.run([str(cli.dir / "cmd"), "node2", "sh", "-c", "echo $GANETI_HOSTNAME"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "node2"
    for name in ("start-all", "stop-all", "restart-all", "watcher-all"):
        assert (cli.dir / name).stat().st_mode & 0o111, name
    # vcluster-setup's per-node <cluster>/<node>/cmd, as Ganeti's QA calls it:
    # one shell word, run by bash -c as that node; from the host...
    script = "echo $GANETI_HOSTNAME $(hostname)"
    out = subprocess.run([str(cli.dir / "node2" / "cmd"), script],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.split()[0] == "node2", out
    # ...and from inside the cluster, on another node (through the ssh shim).
    inside = cli("run", "node1", str(cli.dir / "node2" / "cmd"), script)
    assert inside.stdout.split()[0] == "node2", inside
    assert cli("run", "node1", str(cli.dir / "node2" / "cmd"), "exit 7",
               check=False).returncode == 7


def test_destroy_removes_everything(cli: Cli):
    before = HostSnapshot.take()
    cli("up", "--no-init", "--nodes", "1")
    cli("destroy", "--yes")
    assert not cli.dir.exists()
    wait_for(lambda: not before.differences(HostSnapshot.take(), owner=cli.dir), 30,
             what="host to look as before")
