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

    def __init__(self, failing=(), roles=None):
        self.failing = set(failing)
        self.roles = roles or {"node1": "M"}
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


def test_linear_fills_the_pool_first_sends_the_rest_offline_then_all_online():
    spec = ClusterSpec(nodes=7, init_params={"candidate_pool_size": 3})
    master = FakeMaster()
    j, counted = joiner(master)
    j.linear("node1", spec, spec.node_names[1:])
    adds = finished_adds(master.log)
    assert adds[:2] == ["node2", "node3"]  # the pool: master + 2, all online
    first_offline_add = master.log.index(("add", "node4"))
    # the pool's adds were over before any other add started
    assert all(master.log.index(("add", n)) < first_offline_add for n in ("node2", "node3"))
    offlined = [n for entry in master.log if entry[0] == "offline" for n in entry[1:]]
    assert sorted(offlined) == ["node4", "node5", "node6", "node7"]
    assert "node2" not in offlined and "node3" not in offlined
    assert master.log[-1] == ("online",)  # last, keeping none offline
    assert counted == [[2, 2], [4, 4]]


def test_a_node_that_fails_to_join_is_named_and_the_others_come_online():
    spec = ClusterSpec(nodes=5, init_params={"candidate_pool_size": 2})
    master = FakeMaster(failing={"node4"})
    j, _ = joiner(master)
    with pytest.raises(OperationFailed) as info:
        j.linear("node1", spec, spec.node_names[1:])
    line = info.value.one_line()
    assert "node4: Failure: node4 did not answer" in line and "up" in line
    offlined = [n for entry in master.log if entry[0] == "offline" for n in entry[1:]]
    assert sorted(offlined) == ["node3", "node5"]  # those that joined
    assert master.log[-1] == ("online",)  # brought online despite the failure


def test_the_cluster_files_offline_nodes_stay_offline():
    spec = ClusterSpec(nodes=4, node_settings={"node3": {"offline": True}})
    master = FakeMaster()
    j, _ = joiner(master)
    j.linear("node1", spec, spec.node_names[1:])
    offlined = [n for entry in master.log if entry[0] == "offline" for n in entry[1:]]
    assert offlined == ["node3"]  # pool 10: the rest stay online as candidates
    assert master.log[-1] == ("online", "node3")


def test_split_for_pool_counts_the_candidates_there_are_and_who_can_be_one():
    spec = ClusterSpec(nodes=6, init_params={"candidate_pool_size": 4}, node_settings={
        "node2": {"master_capable": False}, "node3": {"drained": True}})
    names = spec.node_names[1:]
    assert join.split_for_pool(spec, names, 1) == (["node4", "node5", "node6"],
                                                   ["node2", "node3"])
    assert join.split_for_pool(spec, names, 3) == (["node4"], ["node2", "node3", "node5",
                                                               "node6"])
    assert join.split_for_pool(spec, names, 4)[0] == []


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


def test_finishing_a_join_first_sends_the_regular_nodes_it_left_online_offline():
    spec = ClusterSpec(nodes=6, init_params={"candidate_pool_size": 2})
    master = FakeMaster(roles={"node1": "M", "node2": "C", "node3": "R", "node4": "O"})
    j, _ = joiner(master)
    j.linear("node1", spec, ["node5", "node6"])
    assert master.log[0] == ("offline", "node3")
    assert ("add", "node5") in master.log and master.log[-1] == ("online",)
