"""Every Ganeti daemon under the supervisor, whoever started it; failures on demand.

Tests in this module run in order and share one 3-node cluster.
"""

from __future__ import annotations

import json
import os
import signal
import tarfile

from helpers import Cli, host_pid, parent_pid, wait_for


def daemons(cli: Cli) -> dict[tuple[str, str], dict]:
    info = json.loads(cli("status", "--json").stdout)
    return {(d["node"], d["daemon"]): d for n in info["nodes"] for d in n["daemons"]}


def node_column(cli: Cli, master: str, field: str) -> dict[str, str]:
    out = cli("run", master, "gnt-node", "list", "--no-headers", "-o", f"name,{field}").stdout
    return dict(line.split() for line in out.splitlines())


def test_every_ganeti_daemon_is_a_child_of_the_supervisor(cluster3: Cli):
    pid1 = cluster3.pid1()
    supervisor = next(pid for pid, cmd in cluster3.cluster_processes().items()
                      if cmd.startswith("vcluster-ns supervisor "))
    running = {k: d for k, d in daemons(cluster3).items() if d["state"] == "running"}
    assert len(running) == 6 + 3 + 3
    for (node, name), d in running.items():
        pid = host_pid(pid1, d["pid"])
        assert pid is not None, (node, name)
        assert parent_pid(pid) == supervisor, (node, name)
    # None was reparented to init: Ganeti's own starts went through the shim.
    for pid, cmd in cluster3.cluster_processes().items():
        if "/usr/sbin/ganeti-" in cmd:
            assert parent_pid(pid) != pid1, cmd


def blocked_signals(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1], 16) for line in status if line.startswith("SigBlk:"))


def test_every_nodes_idle_haskell_daemons_start_without_the_runtimes_ticks(cluster3: Cli):
    # daemons.TICKLESS: confd and mond on every node start with SIGVTALRM
    # blocked; the master's wconfd and luxid keep it.  And confd still
    # answers (gnt-node list-drbd asks it), mond still collects.
    tick = 1 << (signal.SIGVTALRM - 1)
    pid1 = cluster3.pid1()
    running = {k: d for k, d in daemons(cluster3).items() if d["state"] == "running"}
    for (node, name), d in running.items():
        masked = bool(blocked_signals(host_pid(pid1, d["pid"])) & tick)
        assert masked == (name in ("ganeti-confd", "ganeti-mond")), (node, name)
    drbd = cluster3("run", "node1", "gnt-node", "list-drbd", "node2", check=False)
    assert drbd.returncode == 0 and "Node" in drbd.stdout, drbd.stderr

    def collected():
        out = cluster3("run", "node1", "curl", "-s", "--max-time", "10",
                       "http://node2:1815/1/report/default/cpu-avg-load", check=False).stdout
        try:
            return json.loads(out)["data"]["cpu_number"] > 0
        except (ValueError, KeyError, TypeError):
            return False

    wait_for(collected, 120, what="mond on node2 to report its CPU load")


def test_daemon_util_shim_answers_like_the_real_one(cluster3: Cli):
    du = "/usr/lib/ganeti/daemon-util"
    assert cluster3("run", "node1", du, "check", "ganeti-noded", check=False).returncode == 0
    assert cluster3("run", "node2", du, "check", "ganeti-luxid", check=False).returncode == 1
    assert "ganeti-noded" in cluster3("run", "node1", du, "list-start-daemons").stdout
    bad = cluster3("run", "node1", du, "is-daemon-name", "ganeti-nope", check=False)
    assert bad.returncode == 1
    no_node = cluster3("shell", "-c", f"unset GANETI_HOSTNAME; {du} start ganeti-noded",
                       check=False)
    assert no_node.returncode == 1 and "GANETI_HOSTNAME" in no_node.stderr


def test_service_ganeti_restart_restarts_the_nodes_daemons(cluster3: Cli):
    # The real 'service' runs the init script under 'env -i', which loses
    # the node (GANETI_HOSTNAME) and restarted nothing; QA restarts ganeti
    # so that RAPI rereads its users file (needed from Ganeti 3.2 on).
    before = daemons(cluster3)[("node2", "ganeti-noded")]
    done = cluster3("run", "node2", "service", "ganeti", "restart", check=False)
    assert done.returncode == 0, done.stderr
    after = daemons(cluster3)
    assert after[("node2", "ganeti-noded")]["state"] == "running"
    assert after[("node2", "ganeti-noded")]["pid"] != before["pid"]
    assert after[("node1", "ganeti-noded")]["state"] == "running"  # only node2's
    other = cluster3("run", "node2", "service", "ssh", "restart", check=False)
    assert other.returncode == 3 and "refused" in other.stderr


def test_kill_9_of_noded_is_restarted(cluster3: Cli):
    before = daemons(cluster3)[("node2", "ganeti-noded")]
    os.kill(host_pid(cluster3.pid1(), before["pid"]), signal.SIGKILL)

    def restarted():
        d = daemons(cluster3)[("node2", "ganeti-noded")]
        return d["state"] == "running" and d["restarts"] == before["restarts"] + 1

    wait_for(restarted, 60, what="noded on node2 to be restarted")
    wait_for(lambda: node_column(cluster3, "node1", "mfree")["node2"] != "?", 60,
             what="gnt-node list to answer for node2")
    assert "ganeti-noded" in cluster3("logs", "node2", "noded").stdout


def test_node_stop_and_start(cluster3: Cli):
    cluster3("node", "stop", "node3")
    stopped = daemons(cluster3)
    assert all(stopped[("node3", d)]["state"] == "stopped"
               for d in ("ganeti-noded", "ganeti-confd", "ganeti-mond"))
    # Ganeti sees node3 as unreachable: its live fields are unknown.
    wait_for(lambda: node_column(cluster3, "node1", "mfree")["node3"] == "?", 120,
             what="node3 to be reported unreachable")
    cluster3("node", "start", "node3")
    wait_for(lambda: node_column(cluster3, "node1", "mfree")["node3"] != "?", 120,
             what="node3 to be reachable again")


def test_master_failover_moves_master_daemons_under_supervision(cluster3: Cli):
    cluster3("run", "node2", "gnt-cluster", "master-failover")
    info = json.loads(cluster3("status", "--json").stdout)
    assert info["master"] == "node2"
    now = daemons(cluster3)
    for name in ("ganeti-wconfd", "ganeti-luxid", "ganeti-rapi"):
        assert now[("node2", name)]["state"] == "running", name
        assert now[("node2", name)]["started_by"] == "ganeti", name
        assert now[("node1", name)]["state"] in ("stopped", "not-master"), name
    roles = node_column(cluster3, "node2", "role")
    assert roles == {"node1": "C", "node2": "M", "node3": "C"}
    # And back, so that the cluster ends as it began.
    cluster3("run", "node1", "gnt-cluster", "master-failover")
    assert json.loads(cluster3("status", "--json").stdout)["master"] == "node1"


def test_export_logs(cluster3: Cli, tmp_path):
    archive = cluster3("export-logs", str(tmp_path)).stdout.strip()
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert any(n.endswith("/status.json") for n in names)
    assert any(n.endswith("/supervisor.log") for n in names)
    assert any("/node2/daemons/ganeti-noded.log" in n for n in names)
    assert any("/node1/ganeti/node-daemon.log" in n for n in names)
