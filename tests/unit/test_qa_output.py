"""ganeti/qa/output.py: QA's output, recorded from real runs, read into results."""

from pathlib import Path

import pytest

from vcluster_ns.ganeti.qa.output import ERROR, FAILED, PASSED, SKIPPED, QaOutput, parse

DATA = Path(__file__).parent / "data"


def test_parse_recorded_failed_verify():
    out = parse((DATA / "qa-verify-failed.log").read_text(), exit_code=1)
    ran = [(t.func, t.status) for t in out.results if t.status != SKIPPED]
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
    skipped = [t for t in out.results if t.status == SKIPPED]
    assert ("TestNodeList", ["node-list"]) in [(t.func, t.names) for t in skipped]
    assert out.close(1) is verify or out.results  # close is idempotent enough


def test_parse_recorded_crash_outside_any_test():
    out = parse((DATA / "qa-import-error.log").read_text(), exit_code=1)
    assert [t.status for t in out.results] == [ERROR]
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
    out = parse(text, exit_code=1)
    (a,) = out.results
    assert a.status == FAILED and a.names == ["cluster-modify", "x"]
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
    (t,) = parse(text, exit_code=1).results
    assert (t.func, t.description, t.status) == ("TestInstanceDeviceNames", "", FAILED)
    assert t.message.startswith("Command 'gnt-instance modify --disk=test_device:remove")
    assert t.seconds == pytest.approx(2.176099)


def test_parse_test_cut_short_is_an_error():
    out = parse("<<<< 2026-01-01 10:00:00 start [TestB] B\nworking\n", exit_code=-9)
    assert [(t.func, t.status) for t in out.results] == [("TestB", ERROR)]
    assert "-9" in out.results[0].message


def test_skip_line_with_a_list_of_names():
    out = parse("**** 2026-01-01 10:00:00.1 skipping [TestC] C, test(s) "
                "['instance-shutdown', 'instance-modify'] disabled ------")
    (c,) = out.results
    assert c.status == SKIPPED and c.names == ["instance-shutdown", "instance-modify"]


def test_progress_callback_gets_each_result_as_it_ends():
    seen = []
    out = QaOutput(on_result=lambda t: seen.append((t.func, t.status)),
                   on_start=lambda t: seen.append((t.func, "start")))
    out.feed("<<<< 2026-01-01 10:00:00 start [TestD] D")
    assert seen == [("TestD", "start")]
    seen.clear()
    out.feed("---- PASSED [TestD] D ----")
    out.feed(">>>> 2026-01-01 10:00:01 time=0:00:01 [TestD] D")
    assert seen == [("TestD", PASSED)]


def test_parse_recorded_setup_of_a_full_run():
    """QA's setup and first tests, recorded from a full run on 3 nodes."""
    out = parse((DATA / "qa-setup-passed.log").read_text())
    ran = [t for t in out.results if t.status != SKIPPED]
    assert len(ran) == 18 and all(t.status == PASSED for t in ran)
    assert [t.func for t in ran[:4]] == ["TestSshConnection", "TestIcmpPing",
                                         "TestGanetiCommands", "TestClusterInit"]
    by_func = {t.func: t for t in ran}
    assert by_func["TestIcmpPing"].names == ["env"]
    assert by_func["TestJobCancellation"].names == ["test-jobqueue"]
    assert by_func["TestResumeWatcher"].names == []  # QA runs it always
    assert by_func["TestBackupListFields"].names == ["instance-export"]
    assert all(t.seconds and t.seconds > 0 for t in ran)
    assert out.close(0) is None
