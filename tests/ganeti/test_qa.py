"""vcluster-ns qa: Ganeti's own QA (ganeti-qa.py) on fresh clusters, end to end.

Three short runs share the module's time budget: a passing subset in two
shards side by side (one summary, one JUnit file with each test once and
its shard, every cluster removed), a run where one test is made to fail in
a copy of QA (exit 1, failure reported, --keep-going's fresh restart
without it, failed cluster kept with its logs), and QA's own upgrade test
between the system's Ganeti and a second tree made from the packages.
"""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET

import pytest

from ganeti_trees import MARKER_PREFIX, make_tree
from helpers import Cli, expect_root, left_over, require
from hostsnap import HostSnapshot
from vcluster_ns.ganeti import install
from vcluster_ns.ganeti.qa.suite import qa_installation

SUBSET = ("cluster-verify", "cluster-info", "instance-add-file", "rapi")


@pytest.fixture(scope="module")
def installation():
    inst = qa_installation()
    require(inst.missing() is None, "Ganeti's QA is not installed (apt-get install "
            "ganeti-testsuite)")
    return inst


@pytest.fixture(scope="module")
def passing(tmp_path_factory, installation):
    expect_root()
    work = tmp_path_factory.mktemp("qa")
    before = HostSnapshot.take()
    cli = Cli(work / "clusters")
    only = [a for t in SUBSET for a in ("--only", t)]
    plan = cli("qa", "--rapi", *only, "--list", "--shards", "2")
    result = cli("qa", "--nodes", "2", "--rapi", *only, "--shards", "2",
                 "--junit", str(work / "qa.xml"), check=False, timeout=900)
    return cli, result, work, before, plan


def test_list_shows_the_shards_each_key_once(passing):
    plan = passing[4].stdout
    assert plan.startswith("2 shard(s); times from built-in")
    listed = [line.split()[0] for line in plan.splitlines() if line.startswith("  ")
              and not line.startswith("  also on")]
    assert sorted(listed) == sorted(SUBSET)  # every selected key, in one shard only
    assert "shard 1: estimated" in plan and "shard 2: estimated" in plan


def test_subset_passes_and_prints_each_test(passing, installation):
    cli, result, _, _, _ = passing
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for test in ("TestClusterInit", "TestNodeAddAll", "TestClusterVerify",
                 "TestClusterInfo", "TestInstanceAddFile", "TestInstanceRemove",
                 # QA's RAPI tests, which QA alone would turn off here (--rapi)
                 "TestVersion", "TestEmptyCluster", "TestRapiQuery", "TestInstance"):
        assert f"PASSED  {test}" in out, out  # streamed progress
    assert "QA in 2 shards: " in out and "0 failed, 0 errors" in out
    assert "[shard 1] " in out and "[shard 2] " in out  # side by side, each labelled
    # Which Ganeti and which QA were tested, read from what ran.
    assert f"Ganeti {install.system().version} (system), QA from {installation.qa_dir}" \
        in out.splitlines()


def test_summary_shows_each_workaround(passing):
    _, result, _, _, _ = passing
    assert "rapi: --rapi: QA's RAPI tests run" in result.stdout
    if not os.path.exists("/proc/sysrq-trigger"):
        assert "workarounds" in result.stdout
        assert "--ignore-errors=ENODESETUP" in result.stdout


def test_junit_has_the_tests_and_the_workarounds(passing, installation):
    _, _, work, _, _ = passing
    suite = ET.parse(work / "qa.xml").getroot().find("testsuite")
    cases = {c.get("name").split(":")[0]: c for c in suite.findall("testcase")}
    ran = [c for c in suite.findall("testcase") if c.find("skipped") is None]
    # One file for both shards, each test with the shard that ran it; QA's
    # setup and the file instance, which both shards ran, reported once.
    shard_of = [c.find("properties/property[@name='shard']").get("value") for c in ran]
    assert set(shard_of) == {"1", "2"}
    names = [c.get("name").split(":")[0] for c in ran]
    assert names.count("TestClusterInit") == 1 and names.count("TestInstanceAddFile") == 1
    assert cases["TestClusterVerify"].get("classname") == "ganeti-qa.cluster-verify"
    assert cases["TestRapiQuery"].get("classname") == "ganeti-qa.rapi"
    assert not suite.findall("testcase/failure") and not suite.findall("testcase/error")
    assert int(suite.get("tests")) >= 6
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert "virtual-cluster mode" in props["workaround:rapi"]
    assert props["ganeti-version"] == install.system().version
    assert props["ganeti-tree"] == "system"
    assert props["qa-dir"] == str(installation.qa_dir)
    assert props["shards"] == "2" and len(suite.findall("properties/property[@name='cluster']")) == 2
    if not os.path.exists("/proc/sysrq-trigger"):
        assert "sysrq" in props["workaround:ENODESETUP"]
        assert int(props["workaround-uses"]) >= 1


def test_passing_run_leaves_nothing(passing):
    cli, _, _, before, _ = passing
    clusters = [p.name for p in cli.root.iterdir() if p.is_dir()]
    assert [c for c in clusters if c.startswith("qa-")] == []  # nor the shards' logs
    assert (cli.root / "qa-timings.json").is_file()  # the test times, for the next plan
    assert left_over(before) == []


def test_failure_is_reported_kept_and_keep_going_restarts_without_it(
        tmp_path_factory, installation):
    work = tmp_path_factory.mktemp("qafail")
    # A copy of QA where one test fails the way QA's own checks do.
    qa_dir = work / "qa"
    shutil.copytree(installation.qa_dir, qa_dir)
    cluster_py = qa_dir / "qa_cluster.py"
    cluster_py.write_text(cluster_py.read_text().replace(
        '  """gnt-cluster version"""\n',
        '  """gnt-cluster version"""\n  raise qa_error.Error("made to fail by the test")\n', 1))
    cli = Cli(work / "clusters")
    result = cli("qa", "--nodes", "2", "--qa-dir", str(qa_dir), "--only", "cluster-info",
                 "--keep-going", "--max-restarts", "1", "--junit", str(work / "qa.xml"),
                 check=False, timeout=900)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "FAILED  TestClusterVersion" in out and "made to fail by the test" in out
    assert "switching off 'cluster-info'" in out
    assert "--keep-going: TestClusterVersion failed in attempt 1" in out
    assert "2 attempt(s)" in out
    assert f"(system), QA from {qa_dir}" in out  # --qa-dir's copy, not the installed QA
    kept = [p for p in cli.root.iterdir() if p.is_dir() and p.name.startswith("qa-")]
    assert len(kept) == 1  # the failed attempt's; the passing second one is gone
    # Next to the JUnit file: the failed attempt's export-logs bundle.
    bundles = list(work.glob(f"vcluster-ns-logs-{kept[0].name}-*.tar.gz"))
    assert len(bundles) == 1, list(work.iterdir())
    assert bundles[0].name.endswith(f"-ganeti-{install.system().version}.tar.gz")
    suite = ET.parse(work / "qa.xml").getroot().find("testsuite")
    failures = suite.findall("testcase/failure")
    assert [f.get("message") for f in failures] == ["made to fail by the test"]
    Cli(cli.root, kept[0].name)("destroy", "--yes")
    for bundle in bundles:
        bundle.unlink()


def test_upgrade_test_runs_with_a_second_tree(tmp_path_factory, installation):
    """QA's TestUpgrade with --ganeti-extra: gnt-cluster upgrade to the tree
    and back, with a file instance kept over both upgrades (QA's own steps)."""
    work = tmp_path_factory.mktemp("qaup")
    tree = make_tree(work / "b", marker="tree-B", dir_version="3.0.99", release="3.0.99")
    cli = Cli(work / "clusters")
    result = cli("qa", "--nodes", "2", "--ganeti-extra", str(tree), "--only",
                 "cluster-upgrade", "--only", "instance-add-file", "--keep",
                 "--junit", str(work / "qa.xml"), check=False, timeout=900)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "PASSED  TestUpgrade" in out
    assert "upgrade-2.16-keys: QA's TestUpgrade" in out  # the reported workaround
    [name] = [p.name for p in cli.root.iterdir() if p.is_dir() and p.name.startswith("qa-")]
    kept = Cli(cli.root, name)
    try:
        config = (kept.dir / "logs/node1/ganeti-qa.json").read_text()
        assert '"dir-version": "3.0"' in config and '"other-dir-version": "3.0.99"' in config
        # Every node's noded ran from the tree, then from the system again.
        for node in ("node1", "node2"):
            log = (kept.dir / "logs" / node / "ganeti-noded.log").read_text()
            assert MARKER_PREFIX + "tree-B" in log, node
        status = json.loads(kept("status", "--json").stdout)["ganeti"]
        assert status["node_versions"] == {"node1": "3.0", "node2": "3.0"}
    finally:
        kept("destroy", "--yes", check=False)
    suite = ET.parse(work / "qa.xml").getroot().find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert "2.17" in props["workaround:upgrade-2.16-keys"]
    assert "skip:cluster-upgrade" not in props
