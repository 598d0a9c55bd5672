"""The join ways' order and failure handling, against a fake master.

The fake runs real short processes (``spawn`` must hand back a pid to
wait for, as enter.NodeCommands does) and records what was asked when."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from vcluster_ns.counter import Counter, duration
from vcluster_ns.errors import OperationFailed
from vcluster_ns.ganeti import join
from vcluster_ns.spec import ClusterSpec


class FakeMaster:
    """``gnt-node add NODE`` succeeds unless NODE is in ``failing``; the
    flags script (offline submissions, bringing online) is recorded."""

    def __init__(self, failing=(), roles=None, pool=10):
        self.failing = set(failing)
        self.roles = roles or {"node1": "M"}
        self.pool = pool
        self.log: list[tuple[str, ...]] = []  # ("add", node) | ("added", node) | ...

    def spawn(self, node, argv, stdin=None, stdout=None, stderr=None):
        if argv[:2] == ["gnt-node", "add"]:
            name = argv[-1]
            self.log.append(("add", name))
            code, text = (1, f"Failure: {name} did not answer") if name in self.failing \
                else (0, "ok")
        else:
            plan = json.loads(argv[-1])
            self.log.append(("offline", *plan["nodes"]))
            code, text = 0, json.dumps({"jobs": [1]})
        return os.posix_spawn("/bin/sh", ["sh", "-c", f"echo '{text}'; exit {code}"],
                              os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, stdout, 1)])

    def run(self, node, *argv, timeout=None):
        if argv[:2] == ("gnt-node", "list"):
            return subprocess.CompletedProcess(
                argv, 0, "".join(f"{n} {r}\n" for n, r in self.roles.items()), "")
        plan = json.loads(argv[-1])
        if plan["mode"] == "offline":
            self.log.append(("offline", *plan["nodes"]))
            return subprocess.CompletedProcess(argv, 0, json.dumps({"jobs": [1]}), "")
        if plan["mode"] == "pool":
            before = self.pool
            if plan["size"]:
                self.log.append(("pool", plan["size"]))
                self.pool = plan["size"]
            return subprocess.CompletedProcess(argv, 0, json.dumps({"pool": before}), "")
        self.log.append(("online", *sorted(plan["keep"])))
        return subprocess.CompletedProcess(argv, 0, json.dumps({"offline": []}), "")


def joiner(master):
    added = []

    class Tally:  # what the counter was told
        def __init__(self, total, what):
            added.append([total, 0])

        def tick(self):
            added[-1][1] += 1

        def done(self):
            pass

    j = join.Joiner(master, None, command=lambda *w: "vcluster-ns " + " ".join(w),
                    counter=Tally)
    return j, added


def finished_adds(log):
    return [entry[1] for entry in log if entry[0] == "add"]


def linear(j, master, spec, nodes, tmp_path):
    state = tmp_path / "join-unfinished"
    state.write_text("pid=1\n")
    j.linear("node1", spec, nodes, state)
    return state


def test_linear_shrinks_the_pool_adds_offline_then_fills_the_pool_then_all_online(tmp_path):
    spec = ClusterSpec(nodes=7)
    master = FakeMaster(pool=3)
    j, counted = joiner(master)
    state = linear(j, master, spec, spec.node_names[1:], tmp_path)
    log = master.log
    assert log[0] == ("pool", 1)
    restore = log.index(("pool", 3))
    offline_adds = [e[1] for e in log[:restore] if e[0] == "add"]
    assert sorted(offline_adds) == ["node4", "node5", "node6", "node7"]
    offlined = [n for e in log[:restore] if e[0] == "offline" for n in e[1:]]
    assert sorted(offlined) == sorted(offline_adds)  # each, before the pool is restored
    # the pool is filled (master + 2) by the first nodes, added last and online
    assert sorted(e[1] for e in log[restore:] if e[0] == "add") == ["node2", "node3"]
    assert not [e for e in log[restore:] if e[0] == "offline"]
    assert log[-1] == ("online",)  # last, keeping none offline
    assert counted == [[4, 4], [2, 2]]
    assert "pool=3" in state.read_text()  # what an interrupted join restores


def test_an_interrupted_join_restores_the_pool_it_saved_not_the_one_it_left(tmp_path):
    spec = ClusterSpec(nodes=4)
    master = FakeMaster(pool=1, roles={"node1": "M", "node2": "O"})
    j, _ = joiner(master)
    state = tmp_path / "join-unfinished"
    state.write_text("pid=1\npool=3\n")
    j.linear("node1", spec, ["node3", "node4"], state)
    assert ("pool", 3) in master.log and master.pool == 3
    assert sorted(e[1] for e in master.log if e[0] == "add") == ["node3", "node4"]
    assert master.log[-1] == ("online",)


def test_a_node_that_fails_to_join_is_named_and_the_others_come_online(tmp_path):
    spec = ClusterSpec(nodes=5)
    master = FakeMaster(failing={"node4"}, pool=2)
    j, _ = joiner(master)
    with pytest.raises(OperationFailed) as info:
        linear(j, master, spec, spec.node_names[1:], tmp_path)
    line = info.value.one_line()
    assert "node4: Failure: node4 did not answer" in line and "up" in line
    offlined = [n for entry in master.log if entry[0] == "offline" for n in entry[1:]]
    assert sorted(offlined) == ["node3", "node5"]  # those that joined
    assert ("add", "node2") in master.log  # the pool is filled all the same
    assert master.pool == 2  # restored
    assert master.log[-1] == ("online",)  # brought online despite the failure


def test_the_cluster_files_offline_nodes_stay_offline(tmp_path):
    spec = ClusterSpec(nodes=4, node_settings={"node3": {"offline": True}})
    master = FakeMaster()
    j, _ = joiner(master)
    linear(j, master, spec, spec.node_names[1:], tmp_path)
    offlined = [n for entry in master.log if entry[0] == "offline" for n in entry[1:]]
    assert offlined == ["node3"]  # pool 10: the rest fill it
    assert master.log[-1] == ("online", "node3")


def test_split_for_pool_counts_the_candidates_there_are_and_who_can_be_one():
    spec = ClusterSpec(nodes=6, node_settings={
        "node2": {"master_capable": False}, "node3": {"drained": True}})
    names = spec.node_names[1:]
    assert join.split_for_pool(spec, names, 1, 4) == (["node4", "node5", "node6"],
                                                      ["node2", "node3"])
    assert join.split_for_pool(spec, names, 3, 4) == (["node4"], ["node2", "node3", "node5",
                                                                  "node6"])
    assert join.split_for_pool(spec, names, 4, 4)[0] == []


def test_sequential_sends_nothing_offline():
    spec = ClusterSpec(nodes=14)
    master = FakeMaster()
    j, _ = joiner(master)
    j.sequential("node1", spec, spec.node_names[1:])
    assert sorted(finished_adds(master.log)) == sorted(spec.node_names[1:])
    assert all(entry[0] == "add" for entry in master.log)


def test_counter_gives_rate_and_time_left_not_a_line_per_tick():
    now = [0.0]
    lines = []
    counter = Counter(300, "nodes added", lines.append, every=5.0, clock=lambda: now[0])
    for _ in range(100):
        now[0] += 1.0
        counter.tick()
    assert len(lines) == 20  # every 5 s, not 100 lines
    assert lines[-1] == "nodes added: 100/300, 1.00/s, about 3m20s left"
    for _ in range(200):
        now[0] += 1.0
        counter.tick()
    assert lines[-1] == "nodes added: 300/300, 1.00/s, in 5m00s"
    assert duration(3725) == "1h02m"


def test_finishing_a_join_first_sends_the_regular_nodes_it_left_online_offline(tmp_path):
    spec = ClusterSpec(nodes=6)
    master = FakeMaster(roles={"node1": "M", "node2": "C", "node3": "R", "node4": "O"}, pool=2)
    j, _ = joiner(master)
    linear(j, master, spec, ["node5", "node6"], tmp_path)
    assert master.log[0] == ("offline", "node3")
    assert ("add", "node5") in master.log and master.log[-1] == ("online",)


def test_a_few_missing_nodes_do_not_send_the_whole_cluster_offline(tmp_path):
    roles = {"node1": "M", "node2": "C", **{f"node{i}": "R" for i in range(3, 40)}}
    spec = ClusterSpec(nodes=41, network="198.18.0.0/16")
    master = FakeMaster(roles=roles, pool=2)
    j, _ = joiner(master)
    linear(j, master, spec, ["node40", "node41"], tmp_path)
    assert not [e for e in master.log if e[0] == "offline" and "node3" in e]
