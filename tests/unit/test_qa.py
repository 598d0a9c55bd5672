"""qa.py: QA's test names, the selection, the QA config, QA's output, JUnit."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vcluster_ns import qa
from vcluster_ns.errors import InvalidInput
from vcluster_ns.layout import render_node_cmd
from vcluster_ns.spec import ClusterSpec

DATA = Path(__file__).parent / "data"

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
    assert qa.known_tests(QA_SOURCE) == {
        "cluster-verify", "cluster-copyfile", "node-list", "instance-reinstall",
        "instance-rename", "instance-remove-drbd-offline", "instance-add-drbd-disk",
        "instance-add-file", "exclusive-storage-instance-tests"}


def test_known_tests_of_the_installed_qa_when_present():
    inst = qa.qa_installation()
    if inst.missing():
        pytest.skip("ganeti-testsuite not installed")
    known = qa.known_tests(*(p.read_text() for p in inst.qa_dir.glob("*.py")))
    assert {"create-cluster", "cluster-verify", "instance-add-diskless",
            "instance-add-file", "cluster-rename"} <= known
    assert set(qa.SKIPS) <= known  # every built-in skip names a real test


def test_installation_paths_follow_the_root(tmp_path):
    inst = qa.qa_installation(tmp_path)
    assert inst.qa_dir == tmp_path / "usr/share/ganeti/testsuite/qa"
    assert inst.script == inst.qa_dir / "ganeti-qa.py"
    assert "not installed" in inst.missing()
    inst.qa_dir.mkdir(parents=True)
    inst.script.write_text("")
    assert "Python package" in inst.missing()
    (tmp_path / "usr/share/ganeti/default/ganeti").mkdir(parents=True)
    assert qa.qa_installation(tmp_path).missing() is None


def test_installed_qa_is_staged_with_burnin_where_qa_looks(tmp_path):
    root = tmp_path / "root"
    (root / "usr/share/ganeti/testsuite/qa").mkdir(parents=True)
    (root / "usr/share/ganeti/testsuite/qa/ganeti-qa.py").write_text("# qa\n")
    (root / "usr/lib/ganeti/tools").mkdir(parents=True)
    (root / "usr/lib/ganeti/tools/burnin").write_text("# burnin\n")
    inst = qa.qa_installation(root)
    assert inst.burnin == root / "usr/lib/ganeti/tools/burnin"
    staged = inst.staged(tmp_path / "stage")
    assert staged.script.read_text() == "# qa\n"
    # QA's own lookup: dirname(realpath(qa_cluster.py)) + "/../tools/burnin"
    assert (staged.qa_dir / "../tools/burnin").read_text() == "# burnin\n"
    assert staged.pythonpath == inst.pythonpath


def test_source_tree_qa_is_run_where_it_is(tmp_path):
    (tmp_path / "src/qa").mkdir(parents=True)
    (tmp_path / "src/tools").mkdir()
    (tmp_path / "src/tools/burnin").write_text("")
    inst = qa.qa_installation(tmp_path / "nothing", qa_dir=tmp_path / "src/qa")
    assert inst.staged(tmp_path / "stage") is inst
    assert not (tmp_path / "stage").exists()


def test_installation_of_a_source_tree_puts_its_lib_first(tmp_path):
    (tmp_path / "src/qa").mkdir(parents=True)
    (tmp_path / "src/lib").mkdir()
    (tmp_path / "src/lib/__init__.py").write_text("")
    inst = qa.qa_installation(tmp_path, qa_dir=tmp_path / "src/qa")
    assert inst.pythonpath[0] == str(tmp_path / "src")


KNOWN = {"create-cluster", "cluster-verify", "cluster-info", "instance-add-drbd-disk",
         "instance-add-file", "node-volumes"}


def test_select_all_but_the_builtin_skips():
    sel = qa.select(KNOWN)
    assert sel.tests["default"] is True
    assert sel.tests["cluster-verify"] is True
    assert sel.tests["instance-add-drbd-disk"] is False
    assert sel.tests["node-volumes"] is False
    assert set(sel.skipped) == {"instance-add-drbd-disk", "node-volumes"}
    assert all(sel.skipped.values())  # every skip has its reason


def test_select_only_keeps_qa_setup_and_turns_the_rest_off():
    sel = qa.select(KNOWN, only=["cluster-info"])
    assert sel.tests == {"default": False, "cluster-info": True, "create-cluster": True,
                         "default-instance-tests": True}
    assert sel.skipped == {}


def test_select_only_a_builtin_skip_still_skips_it_with_the_reason():
    sel = qa.select(KNOWN, only=["instance-add-drbd-disk"])
    assert sel.tests["instance-add-drbd-disk"] is False
    assert "DRBD" in sel.skipped["instance-add-drbd-disk"]


def test_select_skip_says_why():
    sel = qa.select(KNOWN, skip=["cluster-info"])
    assert sel.tests["cluster-info"] is False
    assert sel.skipped["cluster-info"] == "--skip"


def test_select_unknown_name_is_an_error_with_a_hint():
    with pytest.raises(InvalidInput) as exc:
        qa.select(KNOWN, only=["cluster-verfy"])
    assert "cluster-verfy" in exc.value.one_line()
    assert "cluster-verify" in exc.value.one_line()


def test_select_refuses_to_skip_qa_setup():
    with pytest.raises(InvalidInput, match="setup"):
        qa.select(KNOWN, skip=["create-cluster"])


def test_with_skipped_adds_a_key_without_changing_the_original():
    sel = qa.select(KNOWN)
    more = sel.with_skipped("cluster-info", "failed")
    assert more.tests["cluster-info"] is False and sel.tests["cluster-info"] is True
    assert more.skipped["cluster-info"] == "failed"


def _config(**spec_args):
    spec = ClusterSpec(name="qa-1", nodes=3, **spec_args)
    facts = qa.facts_from_spec(spec, Path("/home/u/.local/share/vcluster-ns/qa-1"))
    return qa.build_config(facts, qa.select(KNOWN, only=["cluster-verify"]))


def test_config_is_qa_virtual_cluster_mode():
    cfg = _config(secondary_network="198.51.100.0/24")
    assert cfg["vcluster-master"] == "node1"
    assert cfg["vcluster-basedir"] == "/home/u/.local/share/vcluster-ns/qa-1"
    assert cfg["nodes"] == [{"primary": "node1", "secondary": "198.51.100.10"},
                            {"primary": "node2", "secondary": "198.51.100.11"},
                            {"primary": "node3", "secondary": "198.51.100.12"}]
    assert cfg["name"] == "cluster" and cfg["rename"] == "cluster-renamed"
    assert cfg["enabled-hypervisors"] == "fake"
    assert cfg["enabled-disk-templates"] == ["diskless", "file", "sharedfile"]
    # File storage is each node's own, shared storage is shared: sharedfile
    # failover and migration need the two apart.
    assert cfg["default-file-storage-dir"] == "/srv/ganeti/file-storage"
    assert cfg["default-shared-file-storage-dir"] == "/srv/ganeti/shared-file-storage"
    assert cfg["os"] in ("dummy", "noop")
    assert cfg["master-netdev"] == "eth0"
    assert cfg["default-nicparams"] == {"mode": "bridged", "link": "vcbr0"}
    assert cfg["instances"][0] == {"name": "instance1"}
    assert cfg["tests"]["cluster-verify"] is True and cfg["tests"]["default"] is False
    assert cfg["modify_ssh_setup"] is False
    json.dumps(cfg)  # QA reads it as JSON


def test_rename_target_has_an_address_of_its_own():
    spec = ClusterSpec(name="qa-1", nodes=3)
    ip = qa.rename_ip(spec)
    assert ip != spec.cluster_ip and ip != spec.switch_ip
    assert ip not in spec.node_ips.values() and ip not in spec.instance_ips.values()
    assert ip in spec.ip_network


def test_config_init_args_keep_ours_and_leave_qa_its_own():
    args = _config()["cluster-init-args"]
    assert "--no-etc-hosts" in args
    assert any(a.startswith("--ipolicy-bounds-specs=") for a in args)
    # QA gives these itself (from the keys above); twice would be wrong.
    assert not any(a.startswith(("--enabled-hypervisors", "--master-netdev",
                                 "--nic-parameters", "--file-storage-dir",
                                 "--no-ssh-init", "-s")) for a in args)
    assert "cluster" not in args  # the name comes last, from QA


def test_config_without_secondary_network_and_shared_mode():
    cfg = _config(network_mode="shared")
    assert cfg["nodes"][0] == {"primary": "node1"}
    assert cfg["master-netdev"] == "lo"


def test_config_with_domain_renames_within_it():
    cfg = _config(domain="example.test")
    assert cfg["name"] == "cluster.example.test"
    assert cfg["rename"] == "cluster-renamed.example.test"
    assert cfg["nodes"][0]["primary"] == "node1.example.test"


def test_node_cmd_runs_bash_c_on_its_node_inside_and_outside():
    text = render_node_cmd(["/venv/python", "-m", "vcluster_ns.entry"], Path("/r"), "c1", "node2")
    assert text.startswith("#!/bin/sh\n")
    assert 'exec /usr/bin/ssh node2 "$*"' in text  # inside: the ssh shim
    assert ('exec /venv/python -m vcluster_ns.entry --root /r --cluster c1 run node2 '
            '/bin/bash -c "$*"') in text


# -- QA's output, recorded from real runs ---------------------------------------

def test_parse_recorded_failed_verify():
    out = qa.parse((DATA / "qa-verify-failed.log").read_text(), exit_code=1)
    ran = [(t.func, t.status) for t in out.results if t.status != qa.SKIPPED]
    assert ran == [("TestClusterInit", "passed"), ("TestNodeAddAll", "passed"),
                   ("TestResumeWatcher", "passed"), ("TestClusterInitDisk", "passed"),
                   ("TestClusterVerify", "failed")]
    verify = out.results[-1] if out.results[-1].func == "TestClusterVerify" else \
        next(t for t in out.results if t.func == "TestClusterVerify")
    assert verify.names == ["cluster-verify"]
    assert verify.message == "Command 'gnt-cluster verify' on node node1 failed, exit code 1"
    assert verify.seconds == pytest.approx(2.234, abs=0.01)
    assert any("sysrq-trigger" in line for line in verify.output)
    init = out.results[[t.func for t in out.results].index("TestClusterInit")]
    assert init.names == ["create-cluster"] and init.description == "gnt-cluster init"
    skipped = [t for t in out.results if t.status == qa.SKIPPED]
    assert ("TestNodeList", ["node-list"]) in [(t.func, t.names) for t in skipped]
    assert out.close(1) is verify or out.results  # close is idempotent enough


def test_parse_recorded_crash_outside_any_test():
    out = qa.parse((DATA / "qa-import-error.log").read_text(), exit_code=1)
    assert [t.status for t in out.results] == [qa.ERROR]
    assert out.results[0].func == "ganeti-qa.py"
    assert out.results[0].message == "ModuleNotFoundError: No module named 'colors'"


def test_parse_multiline_failure_and_colours():
    text = "\n".join([
        '==== vcluster-ns names ["cluster-modify", "x"]',
        "\x1b[33m<<<< 2026-01-01 10:00:00.000001 start [TestA] Do a ----------\x1b[0m",
        "Command: something",
        "\x1b[31m---- FAILED [TestA] Do a: first line",
        "second line ----------\x1b[0m",
        ">>>> 2026-01-01 10:01:01.500000 time=0:01:01.5 [TestA] Do a",
        "==== vcluster-ns workaround ENODESETUP: gnt-cluster verify --ignore-errors=ENODESETUP",
    ])
    out = qa.parse(text, exit_code=1)
    (a,) = out.results
    assert a.status == qa.FAILED and a.names == ["cluster-modify", "x"]
    assert a.message == "first line\nsecond line"
    assert a.seconds == pytest.approx(61.5)
    assert a.output == ["Command: something"]
    assert out.workarounds == ["ENODESETUP: gnt-cluster verify --ignore-errors=ENODESETUP"]


def test_parse_test_without_docstring_named_by_its_repr():
    """Recorded: QA names TestInstanceDeviceNames (no docstring) by its repr."""
    text = "\n".join([
        '==== vcluster-ns names ["instance-device-names"]',
        "<<<< 2026-11-29 20:28:18.155946 start <function TestInstanceDeviceNames at 0x7f2d68a467a0>",
        "---- FAILED <function TestInstanceDeviceNames at 0x7f2d68a467a0>: Command 'gnt-instance "
        "modify --disk=test_device:remove instance1' on node node1 failed, exit code 1",
        ">>>> 2026-11-29 20:28:20.332045 time=0:00:02.176099 <function TestInstanceDeviceNames "
        "at 0x7f2d68a467a0>",
    ])
    (t,) = qa.parse(text, exit_code=1).results
    assert (t.func, t.description, t.status) == ("TestInstanceDeviceNames", "", qa.FAILED)
    assert t.message.startswith("Command 'gnt-instance modify --disk=test_device:remove")
    assert t.seconds == pytest.approx(2.176099)


def test_parse_test_cut_short_is_an_error():
    out = qa.parse("<<<< 2026-01-01 10:00:00 start [TestB] B\nworking\n", exit_code=-9)
    assert [(t.func, t.status) for t in out.results] == [("TestB", qa.ERROR)]
    assert "-9" in out.results[0].message


def test_skip_line_with_a_list_of_names():
    out = qa.parse("**** 2026-01-01 10:00:00.1 skipping [TestC] C, test(s) "
                   "['instance-shutdown', 'instance-modify'] disabled ------")
    (c,) = out.results
    assert c.status == qa.SKIPPED and c.names == ["instance-shutdown", "instance-modify"]


def test_progress_callback_gets_each_result_as_it_ends():
    seen = []
    out = qa.QaOutput(on_result=lambda t: seen.append((t.func, t.status)),
                      on_start=lambda t: seen.append((t.func, "start")))
    out.feed("<<<< 2026-01-01 10:00:00 start [TestD] D")
    assert seen == [("TestD", "start")]
    seen.clear()
    out.feed("---- PASSED [TestD] D ----")
    out.feed(">>>> 2026-01-01 10:00:01 time=0:00:01 [TestD] D")
    assert seen == [("TestD", qa.PASSED)]


def test_switch_off_picks_a_key_still_on():
    sel = qa.select(KNOWN)
    test = qa.TestResult("TestX", "x", qa.FAILED, names=["node-volumes", "cluster-info"])
    assert qa.switch_off(test, sel) == "cluster-info"
    assert qa.switch_off(qa.TestResult("TestY", "y", qa.FAILED), sel) is None
    # QA's setup is never switched off: the run stops there instead.
    setup = qa.TestResult("TestResumeWatcher", "", qa.FAILED, names=["create-cluster"])
    assert qa.switch_off(setup, sel) is None


# -- JUnit ------------------------------------------------------------------------

def _report():
    results = [
        qa.TestResult("TestA", "a", qa.PASSED, ["cluster-info"], seconds=1.5),
        qa.TestResult("TestB", "b", qa.FAILED, ["cluster-verify"], seconds=2,
                      message="boom\nmore", output=["Command: x"]),
        qa.TestResult("TestC", "c", qa.SKIPPED, ["node-list"], message="disabled"),
        qa.TestResult("TestB", "b", qa.PASSED, ["cluster-verify"], attempt=2),
    ]
    return qa.Report(results, skipped={"node-volumes": "LVM"},
                     workarounds={"ENODESETUP": "no sysrq"}, attempts=2, seconds=30,
                     workaround_uses=3, clusters=["qa-1", "qa-2"])


def test_junit_counts_cases_and_properties():
    root = ET.fromstring(qa.junit_xml(_report()))
    suite = root.find("testsuite")
    assert suite.get("tests") == "4" and suite.get("failures") == "1"
    assert suite.get("skipped") == "1" and suite.get("errors") == "0"
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["workaround:ENODESETUP"] == "no sysrq"
    assert props["skip:node-volumes"] == "LVM"
    assert props["workaround-uses"] == "3" and props["attempts"] == "2"
    cases = suite.findall("testcase")
    assert cases[0].get("name") == "TestA: a" and cases[0].get("time") == "1.500"
    assert cases[0].get("classname") == "ganeti-qa.cluster-info"
    failure = cases[1].find("failure")
    assert failure.get("message") == "boom" and failure.text == "boom\nmore"
    assert cases[1].find("system-out").text == "Command: x"
    assert cases[2].find("skipped") is not None
    assert cases[3].find("properties/property").get("value") == "2"


def test_report_ok_and_counts():
    report = _report()
    assert not report.ok
    assert report.counts() == {"passed": 2, "failed": 1, "error": 0, "skipped": 1}
    rows = qa.summary_rows(report)
    assert [r[0] for r in rows] == ["TestA", "TestB", "TestB"]
    assert rows[1][1] == "failed" and rows[1][4] == "boom"


def test_driver_names_and_verify_workaround(capsys):
    from vcluster_ns import qa_driver

    class Either:
        tests = ["a", ["b", "c"]]
    assert qa_driver._names(["x", Either(), len]) == ["x", "a", "b", "c"]
    calls = []
    wrapped = qa_driver._ignoring(lambda node, cmd, **kw: calls.append(cmd) or [cmd],
                                  ["ENODESETUP"])
    wrapped("node1", "gnt-cluster verify")
    wrapped("node1", "gnt-cluster verify-disks")
    wrapped("node1", "gnt-cluster verify --error-codes")
    assert calls == ["gnt-cluster verify --ignore-errors=ENODESETUP",
                     "gnt-cluster verify-disks",
                     "gnt-cluster verify --ignore-errors=ENODESETUP --error-codes"]
    assert capsys.readouterr().out.count("==== vcluster-ns workaround ENODESETUP") == 2


def test_driver_rapi_view_turns_off_virtual_cluster_for_qa_rapi_only(monkeypatch):
    """--rapi: qa_rapi sees a cluster that is not virtual; qa_config itself,
    and every other module, keep QA's virtual-cluster mode."""
    import sys
    import types

    from vcluster_ns import qa_driver

    config = types.ModuleType("qa.qa_config")
    config.UseVirtualCluster = lambda: True
    config.TestEnabled = lambda names: True
    rapi = types.ModuleType("qa.qa_rapi")
    rapi.qa_config = config
    exec("def Enabled():\n"
         "    return qa_config.TestEnabled('rapi') and not qa_config.UseVirtualCluster()\n",
         rapi.__dict__)
    other = types.ModuleType("qa_utils")
    other.qa_config = config
    monkeypatch.setitem(sys.modules, "qa.qa_rapi", rapi)
    monkeypatch.delitem(sys.modules, "qa_rapi", raising=False)
    assert rapi.Enabled() is False
    qa_driver._rapi_on_virtual_cluster()
    assert rapi.Enabled() is True
    assert rapi.qa_config.TestEnabled is config.TestEnabled  # the rest is QA's own
    assert config.UseVirtualCluster() is True and other.qa_config is config
    # RunTestIf(qa_rapi.Enabled, ...) carries the "rapi" key, for --keep-going
    rapi.Enabled.__module__ = "qa.qa_rapi"
    assert qa_driver._names([rapi.Enabled, "instance-shutdown"]) == \
        ["rapi", "instance-shutdown"]


FAKE_QA = """
def RunTest(fn, *args):
    fn(*args)

def RunTestIf(names, fn, *args):
    if qa_config.TestEnabled(names):
        RunTest(fn, *args)

def RunQa():
    RunTestIf("cluster-info", TestInfo)
    RunTest(TestAlways)
    RunTest(TestInstanceAddFile)
    if qa_config.TestEnabled("instance-rename"):
        RunTest(TestRename)
    RunTestIf("off", TestInfo)
    RunTest(TestRename)
    RunTestIf("cluster-info", TestInfo)
    RunTest(TestInstanceRemove)
"""


def test_driver_labels_tests_run_without_runtestif(capsys, monkeypatch):
    import sys
    import types

    from vcluster_ns import qa_driver

    config = types.SimpleNamespace(TestEnabled=lambda names: names != "off")
    qa_instance = types.ModuleType("qa.qa_instance")
    module = types.ModuleType("fake_qa")
    module.qa_config = config
    for name in ("TestInfo", "TestAlways", "TestInstanceAddFile", "TestRename",
                 "TestInstanceRemove"):
        setattr(module, name, lambda: None)
    qa_instance.available_instance_tests = [
        ("instance-add-file", "file", module.TestInstanceAddFile, 1)]
    monkeypatch.setitem(sys.modules, "qa.qa_instance", qa_instance)
    monkeypatch.setitem(sys.modules, "qa", types.ModuleType("qa"))
    sys.modules["qa"].qa_instance = qa_instance
    exec(compile(FAKE_QA, "/qa/ganeti-qa.py", "exec"), module.__dict__)
    qa_driver._label_tests(module, config, "/qa/ganeti-qa.py")
    module.RunQa()
    lines = [l for l in capsys.readouterr().out.splitlines()]
    assert lines == ['==== vcluster-ns names ["cluster-info"]',
                     '==== vcluster-ns names []',
                     '==== vcluster-ns names ["instance-add-file"]',
                     '==== vcluster-ns names ["instance-rename", "instance-add-file"]',
                     # a disabled RunTestIf leaves the key checked last
                     '==== vcluster-ns names ["instance-rename", "instance-add-file"]',
                     '==== vcluster-ns names ["cluster-info"]',
                     '==== vcluster-ns names ["instance-add-file"]']


def test_driver_labels_tests_qa_runs_after_checking_qa_rapi_enabled(capsys, monkeypatch):
    import sys
    import types

    from vcluster_ns import qa_driver

    config = types.SimpleNamespace(TestEnabled=lambda names: names != "off")
    rapi = types.ModuleType("qa.qa_rapi")
    exec("def Enabled():\n    return True\n", rapi.__dict__)
    monkeypatch.setitem(sys.modules, "qa.qa_rapi", rapi)
    monkeypatch.setitem(sys.modules, "qa", types.ModuleType("qa"))
    module = types.ModuleType("fake_qa")
    module.qa_config, module.qa_rapi, module.TestNode = config, rapi, lambda: None
    exec(compile("def RunTest(fn, *args):\n    fn(*args)\n"
                 "def RunTestIf(names, fn, *args):\n"
                 "    if qa_config.TestEnabled(names):\n        RunTest(fn, *args)\n"
                 "def RunQa():\n"
                 "    if qa_rapi.Enabled():\n        RunTest(TestNode)\n",
                 "/qa/ganeti-qa.py", "exec"), module.__dict__)
    qa_driver._label_tests(module, config, "/qa/ganeti-qa.py")
    module.RunQa()
    assert capsys.readouterr().out.splitlines() == ['==== vcluster-ns names ["rapi"]']
    assert rapi.Enabled.__name__ == "Enabled"  # still recognised by _names


def test_parse_recorded_setup_of_a_full_run():
    """QA's setup and first tests, recorded from a full run on 3 nodes."""
    out = qa.parse((DATA / "qa-setup-passed.log").read_text())
    ran = [t for t in out.results if t.status != qa.SKIPPED]
    assert len(ran) == 18 and all(t.status == qa.PASSED for t in ran)
    assert [t.func for t in ran[:4]] == ["TestSshConnection", "TestIcmpPing",
                                         "TestGanetiCommands", "TestClusterInit"]
    by_func = {t.func: t for t in ran}
    assert by_func["TestIcmpPing"].names == ["env"]
    assert by_func["TestJobCancellation"].names == ["test-jobqueue"]
    assert by_func["TestResumeWatcher"].names == []  # QA runs it always
    assert by_func["TestBackupListFields"].names == ["instance-export"]
    assert all(t.seconds and t.seconds > 0 for t in ran)
    assert out.close(0) is None
