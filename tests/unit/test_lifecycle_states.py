"""lifecycle.py as a state machine: judging facts, what is missing, settling,
the step recorder and the process titles; and how bootstrap recognises an
init that did not finish."""

from __future__ import annotations

import os
from pathlib import Path

from vcluster_ns import lifecycle
from vcluster_ns.ganeti import bootstrap
from vcluster_ns.layout import ClusterPaths
from vcluster_ns.lifecycle import Facts, judge


def node(name, role="regular", stopped=False, running=("ganeti-noded", "ganeti-confd")):
    return {"name": name, "role": role, "stopped": stopped,
            "daemons": [{"daemon": d, "state": "running"} for d in running]}


def test_judge_every_state():
    assert judge(Facts(exists=False)) == ("absent", [])
    assert judge(Facts(exists=True)) == ("created", [])
    assert judge(Facts(exists=True, initialised=True)) == ("down", [])
    record = ("joining", 123, {"init": "1"})
    assert judge(Facts(exists=True, record=record)) == ("down", [])  # nobody works on it
    assert judge(Facts(exists=True, running=True, record=record, locked_by_other=True)) == \
        ("joining", [])
    assert judge(Facts(exists=True, running=True)) == ("up", [])
    assert judge(Facts(exists=True, running=True, missing=("x",))) == ("incomplete", ["x"])


def test_missing_names_an_unfinished_init_before_anything_else():
    assert lifecycle.missing(False, True, [], {}) == ["Ganeti's init was interrupted"]
    assert lifecycle.missing(False, False, [], {}) == ["Ganeti is not initialised"]


def test_missing_daemons_of_joined_nodes_only():
    nodes = [node("node1", "master", running=("ganeti-noded",)),
             node("node2", running=()),
             node("node3", "not-joined", running=()),
             node("node4", stopped=True, running=()),
             node("node5", "offline", running=())]
    expected = {n: ["ganeti-noded", "ganeti-confd"] for n in ("node1", "node2", "node4", "node5")}
    assert lifecycle.missing_daemons(nodes, expected) == {
        "node1": ["ganeti-confd"], "node2": ["ganeti-noded", "ganeti-confd"]}
    assert lifecycle.missing(True, False, nodes, expected) == [
        "1 node(s) not joined: node3",
        "daemons not running on node1 (confd), node2 (noded, confd)"]


def test_an_interrupted_join_is_missing_until_its_offline_nodes_are_online():
    nodes = [node("node1", "master"), node("node2", "offline"), node("node3", "offline"),
             node("node4")]
    running = {"node1": [], "node4": []}
    assert lifecycle.missing(True, False, nodes, running) == []  # a user's offline nodes
    assert lifecycle.missing(True, False, nodes, running, unfinished_join=True,
                             kept_offline=frozenset({"node3"})) == [
        "the node join was interrupted (1 node(s) left offline: node2)"]
    # cut after the last node came online: still unfinished, up finishes it
    assert lifecycle.missing(True, False, [node("node1", "master")], {},
                             unfinished_join=True) == ["the node join was interrupted"]


def test_a_failed_or_stopped_daemon_is_missing():
    n = node("node1")
    n["daemons"][1]["state"] = "failed"
    assert lifecycle.missing_daemons([n], {"node1": ["ganeti-noded", "ganeti-confd"]}) == \
        {"node1": ["ganeti-confd"]}


def test_settle_repairs_until_nothing_is_missing():
    missing = [["a", "b"], ["b"], []]
    repairs = []
    assert lifecycle.settle(lambda: missing.pop(0), lambda: repairs.append(1) or True) == []
    assert len(repairs) == 2


def test_settle_stops_when_nothing_can_be_repaired_and_says_what_is_missing():
    assert lifecycle.settle(lambda: ["node2 (confd)"], lambda: False) == ["node2 (confd)"]
    calls = []
    left = lifecycle.settle(lambda: ["x"], lambda: calls.append(1) or True, attempts=3)
    assert left == ["x"] and len(calls) == 3


def test_recorder_times_steps_and_records_their_phase(tmp_path):
    owned = [True]
    steps = lifecycle.Recorder(tmp_path, owns=lambda: owned[0], facts={"init": 1})
    with steps.step(lifecycle.INIT):
        assert lifecycle.read_phase(tmp_path) == ("initialising", os.getpid(), {"init": "1"})
    assert set(steps.timings) == {"gnt-cluster init"}
    owned[0] = False
    with steps.step(lifecycle.JOIN):
        pass
    assert lifecycle.read_phase(tmp_path)[0] == "initialising"  # not the owner: no record
    assert set(steps.timings) == {"gnt-cluster init", "node adds"}


def test_titles_round_trip_and_others_are_not_ours():
    title = lifecycle.title("launcher", "c1", Path("/r/c 1"))
    assert title == "vcluster-ns launcher c1 /r/c 1"
    assert lifecycle.parse_title(title) == ("launcher", "c1", "/r/c 1")
    assert lifecycle.parse_title("vcluster-ns node node1") is None
    assert lifecycle.parse_title("python3 -m something") is None
    assert lifecycle.node_title("node1") == "vcluster-ns node node1"


def test_an_init_is_unfinished_from_its_start_until_it_succeeds(tmp_path):
    paths = ClusterPaths(tmp_path / "c")
    root = paths.node_root("node1")
    data = root / "var/lib/ganeti"
    data.mkdir(parents=True)
    assert not bootstrap.init_unfinished(paths, root)
    paths.unfinished_init.write_text("1\n")  # written just before gnt-cluster init
    assert bootstrap.init_unfinished(paths, root)
    paths.unfinished_init.unlink()
    (data / "config.data").write_text("{}")  # an init from before the marker, cut early
    assert bootstrap.init_unfinished(paths, root)
    (data / "server.pem").write_text("x")  # ... or one that finished
    assert not bootstrap.init_unfinished(paths, root)


def test_clearing_an_unfinished_init_keeps_what_was_there_before_it(tmp_path):
    root = tmp_path / "node1"
    data, run = root / "var/lib/ganeti", root / "var/run/ganeti"
    for path in (data / "config.data", data / "server.pem", data / "queue/job-1",
                 data / ".vcluster-ns-dirs", data / "rapi/users", run / "socket/ganeti-wconfd",
                 run / "ganeti-noded.pid"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    bootstrap.clear_unfinished_init(root)
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert left == ["var/lib/ganeti/.vcluster-ns-dirs", "var/lib/ganeti/rapi/users"]
