"""What one ``vcluster-ns qa`` found, over all its attempts, for people and CI.

``Report`` gathers every attempt's results, the keys switched off with
their reasons, the workarounds and the clusters used; ``summary_rows`` are
the summary table's rows (cli.py prints them) and ``junit_xml`` the JUnit
file, whose properties carry the skips and workarounds so that a CI
reader sees what was changed, and which Ganeti (version and tree) and
which QA were tested: the version is read from the installation the
clusters ran (``record_ganeti``), never assumed.  Run on the host, after
the last attempt.
"""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET

from .output import ERROR, FAILED, PASSED, SKIPPED, TestResult


@dataclasses.dataclass
class Report:
    """Everything one ``vcluster-ns qa`` found, over all its attempts."""

    results: list[TestResult]
    skipped: dict[str, str]           # config key -> reason (built-in, --skip, keep-going)
    workarounds: dict[str, str]       # what was changed -> why
    attempts: int = 1
    seconds: float = 0.0
    workaround_uses: int = 0          # commands the workarounds changed
    clusters: list[str] = dataclasses.field(default_factory=list)
    ganeti_version: str | None = None  # None: no cluster came up to read it from
    ganeti_tree: str | None = None     # the --ganeti tree; None: the system's
    qa_dir: str | None = None          # the QA that ran (before staging)
    shards: int = 0                    # qa --shards N: how many ran (0: not sharded)
    kept: list[str] = dataclasses.field(default_factory=list)     # clusters left
    bundles: list[str] = dataclasses.field(default_factory=list)  # export-logs files

    def to_json(self) -> str:
        """All of it, for the parent of a shard's run (``from_json``)."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Report":
        data = json.loads(text)
        data["results"] = [TestResult(**r) for r in data["results"]]
        return cls(**data)

    def counts(self) -> dict[str, int]:
        counts = {PASSED: 0, FAILED: 0, ERROR: 0, SKIPPED: 0}
        for test in self.results:
            counts[test.status] += 1
        return counts

    @property
    def ok(self) -> bool:
        return not any(t.status in (FAILED, ERROR) for t in self.results)

    def record_ganeti(self, installation) -> None:
        """The Ganeti the clusters ran: an ``install.Installation``."""
        self.ganeti_version = installation.version
        self.ganeti_tree = None if installation.is_system else str(installation.root)

    def tested(self) -> str | None:
        """``Ganeti 3.0.2 (system)``, ``Ganeti 3.1.1 (/home/me/gnt)``; None
        if no cluster came up."""
        if self.ganeti_version is None:
            return None
        return f"Ganeti {self.ganeti_version} ({self.ganeti_tree or 'system'})"


HEADER = ["TEST", "RESULT", "TIME", "QA CONFIG KEY", "MESSAGE"]


def summary_header(report: Report) -> list[str]:
    return HEADER[:3] + ["SHARD"] + HEADER[3:] if report.shards else HEADER


def summary_rows(report: Report) -> list[list[str]]:
    """One row per test QA ran (``summary_header``'s columns; the shard
    that ran it when sharded); QA's own skips are counted, not listed."""
    rows = []
    for t in report.results:
        if t.status == SKIPPED:
            continue
        took = "-" if t.seconds is None else f"{t.seconds:.1f}s"
        why = t.message.splitlines()[0][:100] if t.message else ""
        shard = [str(t.shard)] if report.shards else []
        rows.append([t.func, t.status, took, *shard, ",".join(t.names), why])
    return rows


def junit_xml(report: Report, suite: str = "ganeti-qa") -> str:
    """JUnit XML: one testcase per test QA ran or skipped; the skip list and
    every workaround as properties, so a CI reader sees what was changed."""
    counts = report.counts()
    root = ET.Element("testsuites", name="vcluster-ns qa", tests=str(len(report.results)),
                      failures=str(counts[FAILED]), errors=str(counts[ERROR]),
                      skipped=str(counts[SKIPPED]), time=f"{report.seconds:.1f}")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(report.results)),
                       failures=str(counts[FAILED]), errors=str(counts[ERROR]),
                       skipped=str(counts[SKIPPED]), time=f"{report.seconds:.1f}")
    props = ET.SubElement(ts, "properties")
    ET.SubElement(props, "property", name="attempts", value=str(report.attempts))
    ET.SubElement(props, "property", name="workaround-uses", value=str(report.workaround_uses))
    if report.ganeti_version is not None:
        ET.SubElement(props, "property", name="ganeti-version", value=report.ganeti_version)
        ET.SubElement(props, "property", name="ganeti-tree",
                      value=report.ganeti_tree or "system")
    if report.qa_dir is not None:
        ET.SubElement(props, "property", name="qa-dir", value=report.qa_dir)
    if report.shards:
        ET.SubElement(props, "property", name="shards", value=str(report.shards))
    for cluster in report.clusters:
        ET.SubElement(props, "property", name="cluster", value=cluster)
    for what, why in report.workarounds.items():
        ET.SubElement(props, "property", name=f"workaround:{what}", value=why)
    for name, why in sorted(report.skipped.items()):
        ET.SubElement(props, "property", name=f"skip:{name}", value=why)
    for t in report.results:
        case = ET.SubElement(ts, "testcase", classname=f"ganeti-qa.{'.'.join(t.names) or 'qa'}",
                             name=f"{t.func}: {t.description}" if t.description != t.func
                             else t.func)
        if t.seconds is not None:
            case.set("time", f"{t.seconds:.3f}")
        if t.status == SKIPPED:
            ET.SubElement(case, "skipped", message=t.message)
        elif t.status in (FAILED, ERROR):
            first = (t.message.splitlines() or [""])[0]
            el = ET.SubElement(case, "failure" if t.status == FAILED else "error",
                               message=first[:500])
            el.text = t.message
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(t.output)
        case_props = [("attempt", t.attempt)] if t.attempt > 1 else []
        if t.shard is not None:
            case_props.append(("shard", t.shard))
        if case_props:
            el = ET.SubElement(case, "properties")
            for name, value in case_props:
                ET.SubElement(el, "property", name=name, value=str(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
