"""vcluster-ns qa: Ganeti's own QA (ganeti-qa.py) on fresh clusters, end to end.

Two short runs share the module's time budget: a passing subset (summary,
JUnit, cluster removed) and a run where one test is made to fail in a copy
of QA (exit 1, failure reported, --keep-going's fresh restart without it,
failed cluster kept with its logs).
"""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET

import pytest

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
    result = cli("qa", "--nodes", "2", "--rapi", *only, "--junit", str(work / "qa.xml"),
                 check=False, timeout=900)
    return cli, result, work, before


def test_subset_passes_and_prints_each_test(passing, installation):
    cli, result, _, _ = passing
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for test in ("TestClusterInit", "TestNodeAddAll", "TestClusterVerify",
                 "TestClusterInfo", "TestInstanceAddFile", "TestInstanceRemove",
                 # QA's RAPI tests, which QA alone would turn off here (--rapi)
                 "TestVersion", "TestEmptyCluster", "TestRapiQuery", "TestInstance"):
        assert f"PASSED  {test}" in out, out  # streamed progress
    assert "0 failed, 0 errors" in out
    # Which Ganeti and which QA were tested, read from what ran.
    assert f"Ganeti {install.system().version} (system), QA from {installation.qa_dir}" \
        in out.splitlines()


def test_summary_shows_each_workaround(passing):
    _, result, _, _ = passing
    assert "rapi: --rapi: QA's RAPI tests run" in result.stdout
    if not os.path.exists("/proc/sysrq-trigger"):
        assert "workarounds" in result.stdout
        assert "--ignore-errors=ENODESETUP" in result.stdout


def test_junit_has_the_tests_and_the_workarounds(passing, installation):
    _, _, work, _ = passing
    suite = ET.parse(work / "qa.xml").getroot().find("testsuite")
    cases = {c.get("name").split(":")[0]: c for c in suite.findall("testcase")}
    assert cases["TestClusterVerify"].get("classname") == "ganeti-qa.cluster-verify"
    assert cases["TestRapiQuery"].get("classname") == "ganeti-qa.rapi"
    assert not suite.findall("testcase/failure") and not suite.findall("testcase/error")
    assert int(suite.get("tests")) >= 6
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert "virtual-cluster mode" in props["workaround:rapi"]
    assert props["ganeti-version"] == install.system().version
    assert props["ganeti-tree"] == "system"
    assert props["qa-dir"] == str(installation.qa_dir)
    if not os.path.exists("/proc/sysrq-trigger"):
        assert "sysrq" in props["workaround:ENODESETUP"]
        assert int(props["workaround-uses"]) >= 1


def test_passing_run_leaves_nothing(passing):
    cli, _, _, before = passing
    clusters = [p.name for p in cli.root.iterdir()] if cli.root.exists() else []
    assert [c for c in clusters if c.startswith("qa-")] == []
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
    kept = [p for p in cli.root.iterdir() if p.name.startswith("qa-")]
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
