"""qa_run.py: --keep-going's restarts and the workarounds, without clusters."""

from pathlib import Path

from vcluster_ns.ganeti.qa.catalogue import select
from vcluster_ns.ganeti.qa.output import FAILED, PASSED, TestResult
from vcluster_ns.ganeti.qa.suite import qa_installation
from vcluster_ns.qa_run import QaRunner, name_version, workarounds


def test_verify_workaround_only_without_sysrq():
    assert workarounds(sysrq_present=True) == ({}, [])
    report, args = workarounds(sysrq_present=False)
    assert args == ["--ignore-verify-error", "ENODESETUP"]
    assert "sysrq-trigger" in report["ENODESETUP"]


def test_rapi_workaround_is_reported_and_passed_to_the_driver():
    report, args = workarounds(sysrq_present=True, rapi=True)
    assert args == ["--rapi"] and "virtual-cluster mode" in report["rapi"]
    report, args = workarounds(sysrq_present=False, rapi=True)
    assert args == ["--ignore-verify-error", "ENODESETUP", "--rapi"]
    assert set(report) == {"ENODESETUP", "rapi"}


class FakeRunner(QaRunner):
    """Each attempt 'fails' the first test in ``failing`` that is still on."""

    def __init__(self, failing):
        super().__init__(Path("/nonexistent"), 3, qa_installation(Path("/nonexistent")),
                         echo=lambda m: None,
                         progress=lambda m: None)
        self.failing = failing
        self.seen = []
        self.downed = []

    def bring_down(self, name):
        self.downed.append(name)

    def attempt(self, selection, attempt, driver_args, report):
        self.seen.append(dict(selection.tests))
        for func, key in self.failing:
            if selection.tests.get(key, True):
                test = TestResult(func, func, FAILED, names=[key], attempt=attempt)
                report.results.append(test)
                return test, f"qa-{attempt}"
        report.results.append(TestResult("TestEnd", "", PASSED, attempt=attempt))
        return None, f"qa-{attempt}"


KNOWN = {"create-cluster", "cluster-verify", "node-readd", "tags"}


def test_keep_going_switches_each_failure_off_and_reports_all():
    runner = FakeRunner([("TestA", "cluster-verify"), ("TestB", "node-readd")])
    report = runner.run(select(KNOWN), keep_going=True, max_restarts=5)
    assert report.attempts == 3 and report.clusters == ["qa-1", "qa-2", "qa-3"]
    assert [(t.func, t.status, t.attempt) for t in report.results] == [
        ("TestA", "failed", 1), ("TestB", "failed", 2), ("TestEnd", "passed", 3)]
    assert runner.seen[1]["cluster-verify"] is False
    assert runner.seen[2]["node-readd"] is False
    assert "TestA failed in attempt 1" in report.skipped["cluster-verify"]
    assert not report.ok
    # Failed attempts followed by another are brought down; the last stays.
    assert runner.downed == ["qa-1", "qa-2"]


def test_keep_going_stops_at_max_restarts():
    runner = FakeRunner([("TestA", "cluster-verify"), ("TestB", "node-readd"),
                         ("TestC", "tags")])
    report = runner.run(select(KNOWN), keep_going=True, max_restarts=1)
    assert report.attempts == 2
    assert runner.downed == ["qa-1"]  # the last failed attempt's cluster stays up
    assert [t.func for t in report.results] == ["TestA", "TestB"]


def test_without_keep_going_one_attempt():
    runner = FakeRunner([("TestA", "cluster-verify")])
    report = runner.run(select(KNOWN), keep_going=False, max_restarts=10)
    assert report.attempts == 1 and "cluster-verify" not in report.skipped


def test_keep_going_stops_at_a_test_qa_always_runs():
    runner = FakeRunner([("TestResumeWatcher", "create-cluster")])
    report = runner.run(select(KNOWN), keep_going=True, max_restarts=10)
    assert report.attempts == 1
    assert runner.downed == []  # no attempt follows: its cluster stays up to inspect


def test_report_names_the_qa_that_ran():
    runner = FakeRunner([])
    report = runner.run(select(KNOWN), keep_going=False, max_restarts=0)
    assert report.qa_dir == str(runner.installation.qa_dir)


def test_bundle_name_says_which_ganeti_failed(tmp_path):
    bundle = tmp_path / "vcluster-ns-logs-qa-1a2b3c-20260101-100000.tar.gz"
    bundle.write_text("logs")
    renamed = name_version(bundle, "3.1.1")
    assert renamed.name == "vcluster-ns-logs-qa-1a2b3c-20260101-100000-ganeti-3.1.1.tar.gz"
    assert renamed.read_text() == "logs" and not bundle.exists()
    assert name_version(renamed, None) == renamed


def test_upgrade_workarounds_are_reported_and_passed_to_the_driver():
    report, args = workarounds(sysrq_present=True, upgrade=True)
    assert args == ["--upgrade-without-2.16-keys"] and "2.17" in report["upgrade-2.16-keys"]
    report, args = workarounds(sysrq_present=False, upgrade=True)
    assert args == ["--ignore-verify-error", "ENODESETUP", "--upgrade-without-2.16-keys"]
    assert "gnt-cluster upgrade" in report["ENODESETUP"]
