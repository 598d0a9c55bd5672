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
    """A master that keeps each node's role letter as Ganeti would:
    ``gnt-node add NODE`` succeeds unless NODE is in ``failing`` (a new node
    is a candidate while the pool has room); the flags script's modes
    change roles and the pool, and are recorded in ``log``.  The offline
    submitter is a real process reading standard input, as on a master."""

    def __init__(self, tmp_path, failing=(), roles=None, pool=10, modify_ssh=False):
        self.failing = set(failing)
        self.modify_ssh = modify_ssh  # Ganeti sets up ssh keys: the adds fall back
        self.roles = dict(roles or {"node1": "M"})
        self.pool = pool
        self.log: list[tuple[str, ...]] = []  # ("add", node) | ("offline", ...) | ...
        self.submitted = tmp_path / "submitted"
        self.submitted.write_text("")
        self.seen = 0

    def candidates(self):
        return sum(1 for role in self.roles.values() if role in ("M", "C"))

    def sync(self):
        """What the submitter has sent offline since last asked."""
        names = self.submitted.read_text().split()
        for name in names[self.seen:]:
            self.log.append(("offline", name))
            self.roles[name] = "O"
        self.seen = len(names)

    def spawn(self, node, argv, stdin=None, stdout=None, stderr=None):
        actions = [(os.POSIX_SPAWN_DUP2, stdout, 1)]
        if argv[:2] == ["gnt-node", "add"]:
            self.sync()
            name = argv[-1]
            self.log.append(("add", name))
            if name in self.failing:
                code, text = 1, f"Failure: {name} did not answer"
            else:
                code, text = 0, "ok"
                capable = "--master-capable=no" not in argv
                self.roles[name] = "C" if capable and self.candidates() < self.pool else "R"
            script = f"echo '{text}'; exit {code}"
        elif "nodes" in json.loads(argv[-1]) and "mode" not in json.loads(argv[-1]):
            script = self.add_script(json.loads(argv[-1]))
        elif json.loads(argv[-1])["mode"] == "online":  # streamed: progress, then the end
            offline = [n for n, r in self.roles.items()
                       if r == "O" and n not in json.loads(argv[-1])["keep"]]
            done = self.run(node, *argv)
            plan = json.loads(argv[-1])
            promote = [n for n in plan.get("promote", []) if n in offline]
            plain = [n for n in offline if n not in promote]
            progress = [{"online": k, "of": len(plain), "what": "nodes"}
                        for k in (0, len(plain)) if plain]
            progress += [{"online": k, "of": len(promote), "what": "master candidates"}
                         for k in (0, len(promote)) if promote]
            script = "".join(f"echo '{json.dumps(line)}'; " for line in progress) + \
                f"echo '{done.stdout}'; exit {done.returncode}"
        else:
            assert json.loads(argv[-1])["mode"] == "submitter"
            actions.append((os.POSIX_SPAWN_DUP2, stdin, 0))
            script = (f'while read n; do [ "$n" = END ] && break; echo "$n" >> {self.submitted}; '
                      'done; echo \'{"jobs": [1]}\'')
        return os.posix_spawn("/bin/sh", ["sh", "-c", script], os.environ, file_actions=actions)

    def add_script(self, plan):
        """addscript.py's ADD_SCRIPT: each node added, then offline in the
        same job; a JSON line per node, then the failed ones."""
        if self.modify_ssh:
            return 'echo \'{"unsupported": "modify_ssh_setup"}\'; exit 3'
        lines, failed = [], []
        for entry in plan["nodes"]:
            name = entry["name"]
            self.log.append(("add", name))
            if name in self.failing:
                failed.append(name)
                lines.append({"node": name, "ok": False,
                              "error": f"Failure: {name} did not answer"})
                continue
            capable = entry.get("master_capable") is not False
            self.roles[name] = "C" if capable and self.candidates() < self.pool else "R"
            self.log.append(("offline", name))
            self.roles[name] = "O"
            lines.append({"node": name, "ok": True, "error": ""})
        lines.append({"failed": failed})
        return "".join(f"echo '{json.dumps(line)}'; " for line in lines) + \
            f"exit {1 if failed else 0}"

    def run(self, node, *argv, timeout=None):
        self.sync()
        if argv[:2] == ("gnt-node", "list"):
            return subprocess.CompletedProcess(
                argv, 0, "".join(f"{n} {r}\n" for n, r in self.roles.items()), "")
        plan = json.loads(argv[-1])
        answer = {}
        if plan["mode"] == "offline":
            self.log.append(("offline", *plan["nodes"]))
            self.roles.update({n: "O" for n in plan["nodes"]})
        elif plan["mode"] == "pool":
            answer = {"pool": self.pool}
            if plan["size"]:
                self.log.append(("pool", plan["size"]))
                self.pool = plan["size"]
        elif plan["mode"] == "promote":
            self.log.append(("promote", *plan["nodes"]))
            self.roles.update({n: "C" for n in plan["nodes"]})
        else:
            self.log.append(("online", *sorted(plan["keep"])))
            promote = [n for n in plan.get("promote", []) if self.roles.get(n) == "O"]
            if promote:
                self.log.append(("online as candidates", *promote))
            for name, role in self.roles.items():
                if role == "O" and name not in plan["keep"]:
                    self.roles[name] = "C" if name in promote or \
                        self.candidates() < self.pool else "R"
        return subprocess.CompletedProcess(argv, 0, json.dumps(answer), "")


def joiner(master):
    added = []

    class Tally:  # what the counter was told
        def __init__(self, total, what):
            self.total, self.count = total, 0
            added.append([what, total, 0])

        def tick(self, n=1):
            self.count += n
            added[-1][2] += n

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


def test_linear_shrinks_the_pool_adds_offline_brings_online_then_promotes(tmp_path):
    spec = ClusterSpec(nodes=7)
    master = FakeMaster(tmp_path, pool=3)
    j, counted = joiner(master)
    state = linear(j, master, spec, spec.node_names[1:], tmp_path)
    log = master.log
    assert log[0] == ("pool", 1)
    online = log.index(("online",))  # keeping none offline
    assert sorted(finished_adds(log[:online])) == spec.node_names[1:]
    offlined = [n for e in log[:online] if e[0] == "offline" for n in e[1:]]
    assert sorted(offlined) == spec.node_names[1:]  # each, right after its add
    for node in spec.node_names[1:]:  # never before its add
        assert log.index(("add", node)) < log.index(("offline", node))
    # with the pool at 1 Ganeti promoted nobody; those that would have
    # filled it node by node (master + 2) came online as candidates, and
    # the pool is restored
    assert log[online + 1:] == [("online as candidates", "node2", "node3"), ("pool", 3)]
    assert master.roles == {"node1": "M", "node2": "C", "node3": "C", "node4": "R",
                            "node5": "R", "node6": "R", "node7": "R"}
    assert counted == [["nodes added", 6, 6], ["nodes online", 4, 4],
                       ["master candidates online", 2, 2]]
    assert "pool=3" in state.read_text()  # what an interrupted join restores


def test_the_roles_are_those_of_node_by_node_adds(tmp_path):
    spec = ClusterSpec(nodes=8, node_settings={"node2": {"master_capable": False}})
    (tmp_path / "by-node").mkdir()
    by_node = FakeMaster(tmp_path / "by-node", pool=4)
    j, _ = joiner(by_node)
    j.sequential("node1", spec, spec.node_names[1:])
    linear_master = FakeMaster(tmp_path, pool=4)
    j, _ = joiner(linear_master)
    linear(j, linear_master, spec, spec.node_names[1:], tmp_path)
    assert by_node.roles["node2"] == "R"
    assert linear_master.roles == by_node.roles


def test_an_interrupted_join_restores_the_pool_it_saved_not_the_one_it_left(tmp_path):
    spec = ClusterSpec(nodes=4)
    master = FakeMaster(tmp_path, pool=1, roles={"node1": "M", "node2": "O"})
    j, _ = joiner(master)
    state = tmp_path / "join-unfinished"
    state.write_text("pid=1\npool=3\n")
    j.linear("node1", spec, ["node3", "node4"], state)
    assert master.log[-1] == ("pool", 3) and master.pool == 3
    assert sorted(finished_adds(master.log)) == ["node3", "node4"]
    assert ("online as candidates", "node2", "node3") in master.log


def test_finishing_a_join_with_no_adds_left_brings_online_and_promotes(tmp_path):
    spec = ClusterSpec(nodes=4)
    master = FakeMaster(tmp_path, pool=1,
                        roles={"node1": "M", "node2": "O", "node3": "O", "node4": "O"})
    j, _ = joiner(master)
    state = tmp_path / "join-unfinished"
    state.write_text("pid=1\npool=2\n")
    j.linear("node1", spec, [], state)
    assert finished_adds(master.log) == []
    assert master.roles == {"node1": "M", "node2": "C", "node3": "R", "node4": "R"}


def test_a_node_that_fails_to_join_is_named_and_the_others_come_online(tmp_path):
    spec = ClusterSpec(nodes=5)
    master = FakeMaster(tmp_path, failing={"node4"}, pool=2)
    j, _ = joiner(master)
    with pytest.raises(OperationFailed) as info:
        linear(j, master, spec, spec.node_names[1:], tmp_path)
    line = info.value.one_line()
    assert "node4: Failure: node4 did not answer" in line and "up" in line
    offlined = [n for entry in master.log if entry[0] == "offline" for n in entry[1:]]
    assert sorted(offlined) == ["node2", "node3", "node5"]  # those that joined
    assert master.pool == 2  # restored
    assert master.roles == {"node1": "M", "node2": "C", "node3": "R", "node5": "R"}


def test_the_cluster_files_offline_nodes_stay_offline_and_are_never_promoted(tmp_path):
    spec = ClusterSpec(nodes=4, node_settings={"node2": {"offline": True}})
    master = FakeMaster(tmp_path, pool=2)
    j, _ = joiner(master)
    linear(j, master, spec, spec.node_names[1:], tmp_path)
    assert ("online", "node2") in master.log
    assert master.roles == {"node1": "M", "node2": "O", "node3": "C", "node4": "R"}


def test_would_be_candidates_counts_the_candidates_there_are_and_who_can_be_one():
    spec = ClusterSpec(nodes=6, node_settings={
        "node2": {"master_capable": False}, "node3": {"drained": True}})
    roles = {"node1": "M", **{n: "R" for n in spec.node_names[1:]}}
    assert join.would_be_candidates(spec, roles, 4) == ["node4", "node5", "node6"]
    assert join.would_be_candidates(spec, {**roles, "node5": "C", "node6": "C"}, 4) == \
        ["node4"]
    assert join.would_be_candidates(spec, {**roles, "node4": "O"}, 10) == ["node5", "node6"]
    assert join.would_be_candidates(spec, roles, 1) == []


def test_sequential_sends_nothing_offline(tmp_path):
    spec = ClusterSpec(nodes=14)
    master = FakeMaster(tmp_path)
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
    master = FakeMaster(tmp_path, roles={"node1": "M", "node2": "C", "node3": "R",
                                         "node4": "O"}, pool=2)
    j, _ = joiner(master)
    linear(j, master, spec, ["node5", "node6"], tmp_path)
    assert master.log[0] == ("offline", "node3")
    assert ("add", "node5") in master.log and master.log[-1] == ("pool", 2)
    assert master.roles == {"node1": "M", "node2": "C", **{f"node{i}": "R" for i in range(3, 7)}}


def test_a_few_missing_nodes_do_not_send_the_whole_cluster_offline(tmp_path):
    roles = {"node1": "M", "node2": "C", **{f"node{i}": "R" for i in range(3, 40)}}
    spec = ClusterSpec(nodes=41, network="198.18.0.0/16")
    master = FakeMaster(tmp_path, roles=roles, pool=2)
    j, _ = joiner(master)
    linear(j, master, spec, ["node40", "node41"], tmp_path)
    assert not [e for e in master.log if e[0] == "offline" and "node3" in e]


def test_a_join_cut_after_its_online_step_still_gets_its_candidates(tmp_path):
    spec = ClusterSpec(nodes=3)
    master = FakeMaster(tmp_path, pool=1, roles={"node1": "M", "node2": "R", "node3": "R"})
    j, _ = joiner(master)
    state = tmp_path / "join-unfinished"
    state.write_text("pid=1\npool=2\n")
    j.linear("node1", spec, [], state)
    assert ("promote", "node2") in master.log and master.log[-1] == ("pool", 2)
    assert master.roles == {"node1": "M", "node2": "C", "node3": "R"}


def test_nodes_that_stay_offline_are_named_in_one_line(tmp_path):
    class Stuck(FakeMaster):  # Ganeti refuses to bring node3 online
        def run(self, node, *argv, timeout=None):
            if argv[:2] != ("gnt-node", "list") and json.loads(argv[-1])["mode"] == "online":
                return subprocess.CompletedProcess(argv, 1, json.dumps({"offline": ["node3"]}),
                                                   "")
            return super().run(node, *argv, timeout=timeout)

    master = Stuck(tmp_path, pool=1, roles={"node1": "M", "node2": "O", "node3": "O"})
    j, _ = joiner(master)
    state = tmp_path / "join-unfinished"
    state.write_text("pid=1\npool=1\n")
    with pytest.raises(OperationFailed) as info:
        j.linear("node1", ClusterSpec(nodes=3), [], state)
    assert info.value.one_line().startswith(
        "bringing the new nodes online failed on node1: 1 node(s) stay offline: node3")
    assert "gnt-job list" in info.value.one_line()


def test_candidates_that_cannot_be_promoted_are_named_in_one_line(tmp_path):
    class Refusing(FakeMaster):  # Ganeti does not promote node2
        def run(self, node, *argv, timeout=None):
            if argv[:2] != ("gnt-node", "list") and json.loads(argv[-1])["mode"] == "promote":
                return subprocess.CompletedProcess(
                    argv, 1, json.dumps({"not_candidates": ["node2"]}), "")
            return super().run(node, *argv, timeout=timeout)

    master = Refusing(tmp_path, pool=1, roles={"node1": "M", "node2": "R", "node3": "R"})
    j, _ = joiner(master)
    state = tmp_path / "join-unfinished"
    state.write_text("pid=1\npool=2\n")
    with pytest.raises(OperationFailed) as info:
        j.linear("node1", ClusterSpec(nodes=3), [], state)
    assert info.value.one_line().startswith(
        "making master candidates failed on node1: node2 not promoted")


def test_where_ganeti_sets_up_ssh_keys_the_adds_are_gnt_node_adds_and_the_submitter(tmp_path):
    spec = ClusterSpec(nodes=5)
    master = FakeMaster(tmp_path, pool=2, modify_ssh=True)
    j, _ = joiner(master)
    linear(j, master, spec, spec.node_names[1:], tmp_path)
    master.sync()
    for node in spec.node_names[1:]:  # gnt-node add, then the submitter's offline
        assert master.log.index(("add", node)) < master.log.index(("offline", node))
    assert master.roles == {"node1": "M", "node2": "C", "node3": "R", "node4": "R",
                            "node5": "R"}


def test_the_add_plan_says_what_gnt_node_adds_options_would():
    from vcluster_ns.ganeti import addscript
    spec = ClusterSpec(nodes=3, node_settings={"node3": {"master_capable": False}})
    assert addscript.add_plan(spec, ["node2", "node3"]) == [
        {"name": "node2"}, {"name": "node3", "master_capable": False}]
    argv = addscript.add_argv(spec, ["node2"], -10)
    assert argv[:2] == ["python3", "-c"]
    compile(argv[2], "ADD_SCRIPT", "exec")  # the script Ganeti's Python will run
    # Ganeti's RPC (curl's global state) is set up before any set-up thread,
    # as gnt-node add's @RunWithRPC does.
    assert argv[2].index("rpc.Init()") < argv[2].index("with ThreadPoolExecutor(")
    assert json.loads(argv[3])["priority"] == -10


def test_the_set_up_threads_never_touch_the_luxi_client():
    """A luxi client is one socket: a query from a set-up thread beside the
    main thread's job queries got the other's answer ("not enough values to
    unpack (expected 2, got 1)").  What the threads run reaches no client."""
    import ast

    from vcluster_ns.ganeti import addscript
    tree = ast.parse(addscript.ADD_SCRIPT % {"pythondir": "/x"})
    functions = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    submitted = [call.args[0].id for call in ast.walk(tree)
                 if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                 and call.func.attr == "submit" and isinstance(call.func.value, ast.Name)
                 and call.func.value.id == "pool"]
    assert submitted == ["setup"]
    seen, todo = set(), ["setup"]
    while todo:  # setup and every function of the script it calls
        name = todo.pop()
        seen.add(name)
        for node in ast.walk(functions[name]):
            assert not (isinstance(node, ast.Name) and node.id == "client"), name
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in functions and node.func.id not in seen:
                todo.append(node.func.id)


def test_online_layout_caps_the_jobs_then_promotes_together_at_the_end():
    nodes = [f"node{i}" for i in range(2, 302)]
    promote = ["node2", "node3", "node4", "node999"]  # node999: not offline, not in nodes
    plain, promotions = join.online_layout(nodes, promote, 10)
    assert len(plain) == 10
    flat = [n for job in plain for n, _ in job]
    assert sorted(flat + ["node2", "node3", "node4"]) == sorted(nodes)  # each once
    assert not any(candidate for job in plain for _, candidate in job)
    assert max(map(len, plain)) - min(map(len, plain)) <= 1
    assert promotions == [[("node2", True)], [("node3", True)], [("node4", True)]]


def test_online_layout_with_few_nodes_or_only_candidates():
    assert join.online_layout(["node2", "node3"], [], 10) == [[[("node2", False)], [("node3", False)]]]
    assert join.online_layout(["node2"], ["node2"], 10) == [[[("node2", True)]]]
    assert join.online_layout([], ["node2"], 10) == []


def test_the_flags_script_compiles_with_the_layout_in_it():
    argv = join.flags_argv({"mode": "online", "keep": []})
    compile(argv[2], "flags_script", "exec")
    assert "def online_layout(" in argv[2] and json.loads(argv[3])["online_jobs"] == join.ONLINE_JOBS


class HangingMaster:
    """A master whose script says one thing, then hangs (ignoring SIGTERM,
    as a script stuck in a system call may)."""

    def spawn(self, node, argv, stdin=None, stdout=None, stderr=None):
        actions = [(os.POSIX_SPAWN_DUP2, stdout, 1)]
        return os.posix_spawn("/bin/sh", ["sh", "-c", "trap '' TERM; echo '{\"online\": 1}'; "
                                          "exec sleep 600"], os.environ, file_actions=actions)


def test_a_hung_script_is_stopped_at_its_deadline(monkeypatch):
    from vcluster_ns import enter
    monkeypatch.setattr(enter, "STOP_GRACE", 0.5)  # then SIGKILL
    events = []
    j = join.Joiner(HangingMaster(), None, command=lambda *w: " ".join(w))
    code, lines = j.stream("node1", ["script"], events.append, timeout=1.0)
    assert events == [{"online": 1}]
    assert code == enter.TIMED_OUT and lines[-1] == "stopped after running 1s"
