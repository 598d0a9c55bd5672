"""ganeti/qa/catalogue.py: QA's test names, the built-in skips, the selection."""

import pytest

from vcluster_ns.errors import InvalidInput
from vcluster_ns.ganeti.qa.catalogue import known_tests, select, switch_off
from vcluster_ns.ganeti.qa.output import FAILED, TestResult
from vcluster_ns.ganeti.qa.skips import SKIPS, Skip, applicable
from vcluster_ns.ganeti.qa.suite import qa_installation
from vcluster_ns.ganeti.versions import VersionRange

QA_SOURCE = '''
def RunClusterTests():
  for test, fn in [
    ("cluster-verify", qa_cluster.TestClusterVerify),
    (["cluster-copyfile", qa_config.NoVirtualCluster], qa_cluster.TestClusterCopyfile),
    (qa_rapi.Enabled, qa_rapi.TestVersion),
    ]:
    RunTestIf(test, fn)
  RunTestIf("node-list", qa_node.TestNodeList)
  DOWN = qa_config.Either(["instance-reinstall", "instance-rename"])
  if qa_config.TestEnabled(["instance-remove-drbd-offline", "instance-add-drbd-disk"]):
    pass
  print("not a test name")
  test_name = "exclusive-storage-instance-tests"
_TEMPLATES = [
  ("instance-add-file", constants.DT_FILE, qa_instance.TestInstanceAddFile),
]
'''


def test_known_tests_reads_every_way_qa_names_a_test():
    assert known_tests(QA_SOURCE) == {
        "cluster-verify", "cluster-copyfile", "node-list", "instance-reinstall",
        "instance-rename", "instance-remove-drbd-offline", "instance-add-drbd-disk",
        "instance-add-file", "exclusive-storage-instance-tests"}


def test_known_tests_of_the_installed_qa_when_present():
    inst = qa_installation()
    if inst.missing():
        pytest.skip("ganeti-testsuite not installed")
    known = known_tests(*(p.read_text() for p in inst.qa_dir.glob("*.py")))
    assert {"create-cluster", "cluster-verify", "instance-add-diskless",
            "instance-add-file", "cluster-rename"} <= known
    assert set(SKIPS) <= known  # every built-in skip names a real test


KNOWN = {"create-cluster", "cluster-verify", "cluster-info", "instance-add-drbd-disk",
         "instance-add-file", "node-volumes"}


def test_select_all_but_the_builtin_skips():
    sel = select(KNOWN)
    assert sel.tests["default"] is True
    assert sel.tests["cluster-verify"] is True
    assert sel.tests["instance-add-drbd-disk"] is False
    assert sel.tests["node-volumes"] is False
    assert set(sel.skipped) == {"instance-add-drbd-disk", "node-volumes"}
    assert all(sel.skipped.values())  # every skip has its reason


def test_select_only_keeps_qa_setup_and_turns_the_rest_off():
    sel = select(KNOWN, only=["cluster-info"])
    assert sel.tests == {"default": False, "cluster-info": True, "create-cluster": True,
                         "default-instance-tests": True}
    assert sel.skipped == {}


def test_select_only_a_builtin_skip_still_skips_it_with_the_reason():
    sel = select(KNOWN, only=["instance-add-drbd-disk"])
    assert sel.tests["instance-add-drbd-disk"] is False
    assert "DRBD" in sel.skipped["instance-add-drbd-disk"]


def test_select_skip_says_why():
    sel = select(KNOWN, skip=["cluster-info"])
    assert sel.tests["cluster-info"] is False
    assert sel.skipped["cluster-info"] == "--skip"


def test_select_unknown_name_is_an_error_with_a_hint():
    with pytest.raises(InvalidInput) as exc:
        select(KNOWN, only=["cluster-verfy"])
    assert "cluster-verfy" in exc.value.one_line()
    assert "cluster-verify" in exc.value.one_line()


def test_select_refuses_to_skip_qa_setup():
    with pytest.raises(InvalidInput, match="setup"):
        select(KNOWN, skip=["create-cluster"])


def test_with_skipped_adds_a_key_without_changing_the_original():
    sel = select(KNOWN)
    more = sel.with_skipped("cluster-info", "failed")
    assert more.tests["cluster-info"] is False and sel.tests["cluster-info"] is True
    assert more.skipped["cluster-info"] == "failed"


def test_switch_off_picks_a_key_still_on():
    sel = select(KNOWN)
    test = TestResult("TestX", "x", FAILED, names=["node-volumes", "cluster-info"])
    assert switch_off(test, sel) == "cluster-info"
    assert switch_off(TestResult("TestY", "y", FAILED), sel) is None
    # QA's setup is never switched off: the run stops there instead.
    setup = TestResult("TestResumeWatcher", "", FAILED, names=["create-cluster"])
    assert switch_off(setup, sel) is None


# -- the built-in skips' version ranges -------------------------------------

RANGED = {
    "node-volumes": Skip("LVM"),                                          # every version
    "instance-add-drbd-disk": Skip("fixed in 3.1", VersionRange(before="3.1.0")),
    "cluster-info": Skip("new in 3.1", VersionRange(first="3.1.0")),
}


def test_select_applies_a_skip_only_on_the_versions_where_it_holds():
    old = select(KNOWN, version="3.0.2", builtin=RANGED)
    assert set(old.skipped) == {"node-volumes", "instance-add-drbd-disk"}
    new = select(KNOWN, version="3.1.1", builtin=RANGED)
    assert set(new.skipped) == {"node-volumes", "cluster-info"}
    assert new.tests["instance-add-drbd-disk"] is True  # passes there: runs there
    master = select(KNOWN, version="3.2.0~alpha1", builtin=RANGED)
    assert set(master.skipped) == {"node-volumes", "cluster-info"}


def test_an_unknown_version_gets_every_skip():
    sel = select(KNOWN, version=None, builtin=RANGED)
    assert set(sel.skipped) == {"node-volumes", "instance-add-drbd-disk", "cluster-info"}


def test_a_skip_reason_names_its_range():
    sel = select(KNOWN, version="3.0.2", builtin=RANGED)
    assert sel.skipped["instance-add-drbd-disk"] == "fixed in 3.1 [holds on Ganeti <3.1.0]"
    assert sel.skipped["node-volumes"] == "LVM [holds on every Ganeti version]"
    only = select(KNOWN, only=["cluster-info"], version="3.1.1", builtin=RANGED)
    assert only.skipped["cluster-info"].startswith("new in 3.1 [holds on Ganeti >=3.1.0]")
    assert "despite --only" in only.skipped["cluster-info"]
    # --only of a skip that does not hold on this version runs it
    assert select(KNOWN, only=["cluster-info"], version="3.0.2",
                  builtin=RANGED).tests["cluster-info"] is True


def test_applicable_lists_the_skips_of_one_version():
    assert applicable("3.1.1", RANGED) == {
        "node-volumes": "LVM [holds on every Ganeti version]",
        "cluster-info": "new in 3.1 [holds on Ganeti >=3.1.0]"}


def test_every_builtin_skip_has_a_reason_and_a_valid_range():
    for key, entry in SKIPS.items():
        assert entry.reason and isinstance(entry.versions, VersionRange), key
        assert entry.holds_for(None)
