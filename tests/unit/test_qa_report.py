"""ganeti/qa/report.py: the summary rows and the JUnit XML."""

import xml.etree.ElementTree as ET
from pathlib import Path

from vcluster_ns.ganeti.install import Installation
from vcluster_ns.ganeti.qa.output import FAILED, PASSED, SKIPPED, TestResult
from vcluster_ns.ganeti.qa.report import Report, junit_xml, summary_rows


def _report():
    results = [
        TestResult("TestA", "a", PASSED, ["cluster-info"], seconds=1.5),
        TestResult("TestB", "b", FAILED, ["cluster-verify"], seconds=2,
                   message="boom\nmore", output=["Command: x"]),
        TestResult("TestC", "c", SKIPPED, ["node-list"], message="disabled"),
        TestResult("TestB", "b", PASSED, ["cluster-verify"], attempt=2),
    ]
    return Report(results, skipped={"node-volumes": "LVM"},
                  workarounds={"ENODESETUP": "no sysrq"}, attempts=2, seconds=30,
                  workaround_uses=3, clusters=["qa-1", "qa-2"])


def test_junit_counts_cases_and_properties():
    root = ET.fromstring(junit_xml(_report()))
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
    rows = summary_rows(report)
    assert [r[0] for r in rows] == ["TestA", "TestB", "TestB"]
    assert rows[1][1] == "failed" and rows[1][4] == "boom"


def _properties(report):
    suite = ET.fromstring(junit_xml(report)).find("testsuite")
    return {p.get("name"): p.get("value") for p in suite.find("properties")}


def test_junit_names_the_ganeti_tested_its_tree_and_qa():
    """The version is the installation's own (a tree's 3.1.1), never assumed."""
    report = _report()
    report.record_ganeti(Installation(Path("/home/me/gnt"), "3.1.1", "3.1"))
    report.qa_dir = "/home/me/src/ganeti/qa"
    props = _properties(report)
    assert props["ganeti-version"] == "3.1.1"
    assert props["ganeti-tree"] == "/home/me/gnt"
    assert props["qa-dir"] == "/home/me/src/ganeti/qa"


def test_junit_names_the_system_installation():
    report = _report()
    report.record_ganeti(Installation(Path("/"), "3.0.2", "3.0"))
    props = _properties(report)
    assert (props["ganeti-version"], props["ganeti-tree"]) == ("3.0.2", "system")


def test_tested_names_version_and_tree():
    report = _report()
    assert report.tested() is None  # no cluster came up: nothing read
    assert "ganeti-version" not in _properties(report)
    report.record_ganeti(Installation(Path("/home/me/gnt"), "3.1.1", "3.1"))
    assert report.tested() == "Ganeti 3.1.1 (/home/me/gnt)"
    report.record_ganeti(Installation(Path("/"), "3.0.2", "3.0"))
    assert report.tested() == "Ganeti 3.0.2 (system)"
