"""ganeti/qa/shards.py and timings.py: the shard planner, its needs, its table."""

import itertools

import pytest

from vcluster_ns.ganeti.qa.catalogue import ALWAYS, Selection, select
from vcluster_ns.ganeti.qa.output import FAILED, PASSED, SKIPPED, TestResult
from vcluster_ns.ganeti.qa.report import Report
from vcluster_ns.ganeti.qa.shards import (
    Shard, closure, plan, reported_here, requirements, selected_keys, selection_from_json,
    selection_to_json)
from vcluster_ns.ganeti.qa.suite import qa_installation
from vcluster_ns.ganeti.qa.skips import Skip
from vcluster_ns.ganeti.qa.timings import Timings, from_junit, from_results, owner
from vcluster_ns.ganeti.qa import timings as timings_module
from vcluster_ns.qa_shards import merge, remember_timings

SCRIPT = '''
def RunCommonInstanceTests(instance):
  RunTestIf("instance-shutdown", qa_instance.TestInstanceShutdown, instance)
  RunTestIf(["instance-shutdown", "instance-modify"], qa_instance.TestStoppedModify)
  RunTestIf(["instance-modify", qa_rapi.Enabled], qa_rapi.TestRapiInstanceModify)
  DOWN = qa_config.Either(["instance-reinstall", "instance-rename"])
  RunTestIf(DOWN, qa_instance.TestInstanceShutdown, instance)

def RunInstanceTests():
  for (name, templ, create_fun, n) in qa_instance.available_instance_tests:
    if qa_config.TestEnabled(name):
      instance = RunTest(create_fun)
      RunTestIf("instance-user-down", qa_instance.TestInstanceUserDown, instance)
      RunCommonInstanceTests(instance)

def RunPerformanceTests():
  if not qa_config.TestEnabled("performance"):
    ReportTestSkip("performance related tests", "performance")
    return
  if qa_config.TestEnabled("jobqueue-performance"):
    RunTest(qa_performance.TestParallelMaxInstanceCreationPerformance)

def RunQa():
  RunTestIf("cluster-verify", qa_cluster.TestClusterVerify)
  if qa_rapi.Enabled():
    RunTestIf("filters", qa_rapi.TestFilters)
  RunTestBlock(RunInstanceTests)
  RunPerformanceTests()
'''
INSTANCE_MODULE = '''
available_instance_tests = [
  ("instance-add-file", constants.DT_FILE, TestInstanceAddFile, 1),
  ("instance-add-shared-file", constants.DT_SHARED_FILE, TestInstanceAddSharedFile, 1),
]
'''
ADDERS = {"instance-add-file", "instance-add-shared-file"}


def test_requirements_read_from_qa_code():
    needs = requirements(SCRIPT, INSTANCE_MODULE)
    # Checked inside the instance block: needs the instances.
    assert needs["instance-user-down"] == ADDERS
    assert needs["instance-reinstall"] == ADDERS  # Either: no key needs the other
    # Several keys at once: the first needs the others.
    assert needs["instance-shutdown"] == ADDERS | {"instance-modify"}
    assert needs["instance-modify"] == ADDERS | {"rapi"}
    # Gated: inside "if qa_rapi.Enabled()", after "if not TestEnabled(K): return".
    assert needs["filters"] == {"rapi"}
    assert needs["jobqueue-performance"] == {"performance"}
    assert "cluster-verify" not in needs and "instance-add-file" not in needs


def test_requirements_of_the_installed_qa_when_present():
    inst = qa_installation()
    if inst.missing():
        pytest.skip("ganeti-testsuite not installed")
    needs = requirements(inst.script.read_text(),
                         (inst.qa_dir / "qa_instance.py").read_text())
    assert {"instance-add-file", "instance-add-shared-file"} <= needs["instance-reboot"]
    assert "performance" in needs["jobqueue-performance"]
    assert "instance-add-file" not in needs  # the instance makers need no instance


TABLE = Timings({"a": 100, "b": 80, "c": 60, "d": 40, "e": 30, "f": 20, "g": 10}, setup=5)


def _all_owned(shards):
    return sorted(k for s in shards for k in s.owned)


def test_every_key_in_exactly_one_shard():
    keys = list(TABLE.keys) + ["never-measured"]
    for count in (1, 2, 3, 8, 20):
        shards = plan(keys, count, TABLE, {})
        assert _all_owned(shards) == sorted(keys), count  # none lost, none twice
        assert len(shards) == min(count, len(keys))  # empty shards dropped
        assert [s.number for s in shards] == list(range(1, len(shards) + 1))


def test_longest_first_balances():
    shards = plan(list(TABLE.keys), 2, TABLE, {})
    # LPT: a(100) | b(80) | c -> 2 (140) | d -> 1 (140) | e -> 1 | f -> 2 | g -> 2
    assert [s.owned for s in shards] == [("a", "d", "e"), ("b", "c", "f", "g")]
    assert [s.seconds for s in shards] == [175, 175]
    # A key alone longer than a fair share gets a shard of its own.
    lone = plan(list(TABLE.keys), 3, Timings({**TABLE.keys, "a": 1000}), {})
    assert lone[0].owned == ("a",)


def test_plan_is_deterministic():
    keys = list(TABLE.keys)
    first = plan(keys, 3, TABLE, {})
    for order in itertools.islice(itertools.permutations(keys), 50):
        assert plan(list(order), 3, TABLE, {}) == first
    # Ties are broken by name, not by the order given.
    equal = Timings({k: 10 for k in "pqrs"})
    assert plan(list("srqp"), 2, equal, {}) == plan(list("pqrs"), 2, equal, {})


def test_needs_are_switched_on_and_counted():
    needs = {"d": frozenset({"a"}), "e": frozenset({"d", "not-selected"})}
    shards = plan(list(TABLE.keys), 2, TABLE, needs)
    assert _all_owned(shards) == sorted(TABLE.keys)
    for shard in shards:
        on = set(shard.owned) | set(shard.needed)
        for key in shard.owned:
            assert closure(key, needs, set(TABLE.keys)) <= on  # e brings d, d brings a
        assert "not-selected" not in on
        assert not set(shard.needed) & set(shard.owned)
        assert shard.seconds == TABLE.setup + sum(TABLE.seconds(k) for k in on)


def test_shard_selection_keeps_setup_and_reasons():
    base = select({"create-cluster", "default-instance-tests", "a", "b", "node-volumes"},
                  builtin={"node-volumes": Skip("LVM")})
    shard = Shard(1, ("a",), ("b",), 10)
    sel = shard.selection(base)
    assert sel.tests["default"] is False
    assert {k for k, on in sel.tests.items() if on} == {*ALWAYS, "a", "b"}
    assert sel.skipped == {"node-volumes": Skip("LVM").describe()}
    assert selected_keys(base) == ["a", "b"]
    assert selection_from_json(selection_to_json(sel)) == sel


def test_owner_and_merged_report_has_each_test_once():
    assert owner(["create-cluster"]) is None and owner([]) is None
    assert owner(["instance-shutdown", "rapi"]) == "instance-shutdown"
    shards = [Shard(1, ("a",), (), 1), Shard(2, ("b",), ("a",), 1)]
    base = Selection({"default": False, "a": True, "b": True, "x": False}, {"x": "LVM"})

    def run(shard, tests):
        return Report([TestResult(f, f, status, names) for f, status, names in tests],
                      skipped=dict(base.skipped), workarounds={"w": "why"}, attempts=1,
                      clusters=[f"qa-{shard}"], ganeti_version="3.0.2")

    one = run(1, [("TestClusterInit", PASSED, ["create-cluster"]), ("TestA", PASSED, ["a"]),
                  ("TestX", SKIPPED, ["x"]), ("TestB", SKIPPED, ["b"])])
    two = run(2, [("TestClusterInit", PASSED, ["create-cluster"]), ("TestA", PASSED, ["a"]),
                  ("TestB", PASSED, ["b"]), ("TestX", SKIPPED, ["x"]),
                  ("TestA2", FAILED, ["a"])])
    two.skipped["b2"] = "--keep-going: TestB2 failed in attempt 1"
    merged = merge(shards, base, [(one, 0, "l1"), (two, 1, "l2")], 42)
    seen = [(t.func, t.status, t.shard) for t in merged.results]
    assert seen == [("TestClusterInit", PASSED, 1), ("TestA", PASSED, 1),
                    ("TestX", SKIPPED, 1), ("TestB", PASSED, 2), ("TestA2", FAILED, 2)]
    assert merged.shards == 2 and merged.attempts == 2 and merged.seconds == 42
    assert merged.clusters == ["qa-1", "qa-2"] and merged.ganeti_version == "3.0.2"
    assert merged.skipped["b2"].endswith("(shard 2)") and merged.skipped["x"] == "LVM"
    assert not merged.ok


def test_a_shard_without_report_is_an_error_not_a_stop():
    shards = [Shard(1, ("a",), (), 1), Shard(2, ("b",), (), 1)]
    base = Selection({"default": False, "a": True, "b": True}, {})
    one = Report([TestResult("TestA", "", PASSED, ["a"])], {}, {})
    merged = merge(shards, base, [(one, 0, "l1"), (None, -9, "/w/shard-2.log")], 1)
    assert [(t.func, t.status) for t in merged.results] == [
        ("TestA", PASSED), ("vcluster-ns", "error")]
    assert "/w/shard-2.log" in merged.results[1].message


def test_reported_here():
    owner_of = {"a": 1, "b": 2}
    assert reported_here(["b"], False, 2, owner_of)
    assert not reported_here(["b"], False, 1, owner_of)   # ran as a need of shard 1
    assert reported_here(["b"], True, 1, owner_of)        # but a failure is kept
    assert reported_here([], False, 1, owner_of) and not reported_here([], False, 2, owner_of)
    assert reported_here(["off"], False, 1, owner_of)     # QA's skip of a key off everywhere
    # Either(["reinstall" (off), "b", ...]): reported by the owner of b
    assert reported_here(["off", "b"], False, 2, owner_of)
    assert not reported_here(["off", "b"], False, 1, owner_of)


def test_timings_from_results_junit_and_json(tmp_path):
    table = from_results([(["create-cluster"], 7.0), ([], 1.0), (["a", "rapi"], 2.0),
                          (["a"], 3.0), (["b"], None), (["oob"], 0.0)], "3.0.2")
    assert table.keys == {"a": 5.0, "oob": 0.0} and table.setup == 8.0  # QA's skip: 0 s
    assert table.seconds("never") == 5.0  # the median of the measured (0 and 5)
    xml = ('<testsuites><testsuite name="ganeti-qa"><properties>'
           '<property name="ganeti-version" value="3.1.1"/></properties>'
           '<testcase classname="ganeti-qa.create-cluster" name="T" time="4"/>'
           '<testcase classname="ganeti-qa.qa" name="U" time="1"/>'
           '<testcase classname="ganeti-qa.b.rapi" name="V" time="2.5"/>'
           '<testcase classname="ganeti-qa.c" name="W"><skipped/></testcase>'
           '</testsuite></testsuites>')
    junit = from_junit(xml)
    assert junit.keys == {"b": 2.5, "c": 0.0} and junit.setup == 5.0
    assert junit.ganeti_version == "3.1.1"
    both = table.updated(junit)
    assert both.keys == {"a": 5.0, "b": 2.5, "oob": 0.0, "c": 0.0}
    path = tmp_path / "t.json"
    path.write_text(both.to_json())
    assert timings_module.load(path) == both
    (tmp_path / "j.xml").write_text(xml)
    assert timings_module.load(tmp_path / "j.xml") == junit
    (tmp_path / "bad").write_text("{}")
    with pytest.raises(ValueError, match="bad"):
        timings_module.load(tmp_path / "bad")


def test_kept_table_is_the_mean_of_the_runs_so_a_wait_of_chance_moves_it_half(tmp_path):
    old = Timings({"osparams": 100.0, "list": 10.0}, 12.0, "3.0.2")
    new = Timings({"osparams": 300.0, "new": 4.0}, 10.0, "3.0.2")
    mean = old.averaged(new)
    assert mean.keys == {"osparams": 200.0, "list": 10.0, "new": 4.0}
    assert mean.setup == 11.0
    assert Timings({}, 0.0).averaged(new).setup == 10.0  # nothing kept: the run's setup

    def run(osparams_seconds):
        results = [TestResult("TestClusterInit", "init", PASSED, ["create-cluster"], 6.0),
                   TestResult("TestSecretOsParams", "osparams", PASSED,
                              ["instance-add-osparams"], osparams_seconds)]
        return Report(results, {}, {}, ganeti_version="3.0.2")

    remember_timings(tmp_path, run(60.0), echo=print)
    kept = timings_module.load(tmp_path / timings_module.TABLE_NAME)
    assert kept.keys == {"instance-add-osparams": 60.0} and kept.setup == 6.0
    remember_timings(tmp_path, run(260.0), echo=print)
    kept = timings_module.load(tmp_path / timings_module.TABLE_NAME)
    assert kept.keys == {"instance-add-osparams": 160.0}


def test_builtin_table_is_usable():
    table = timings_module.builtin()
    assert table.ganeti_version and table.setup > 0
    assert all(seconds >= 0 for seconds in table.keys.values())
