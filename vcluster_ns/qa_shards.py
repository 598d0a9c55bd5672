"""``vcluster-ns qa --shards N``: shards run side by side, merged into one report.

Each shard (planned by ``ganeti.qa.shards.plan``) is one ``vcluster-ns qa``
child process, given its selection as a file (``--shard-selection``) and
asked for its report as JSON (``--shard-report``).  A child is a whole QA
run of its own: a fresh cluster per attempt (``qa-XXXXXX``, a name of its
own, in a network namespace of its own), its own ``--keep-going``
restarts, its own kept clusters and log bundles.  Processes, not threads:
a shard that fails or crashes cannot stop the others, and a child's
cleanup is the one a single run already has.

Each child leads a process group (session) of its own, so a Ctrl-C at the
terminal reaches this parent only; the parent then sends SIGINT to each
child's whole group once, as a terminal would to a single run, and waits
for every child to bring its cluster down before it stops.

Children's output lines are echoed prefixed ``[shard K]``; their progress
(stderr) goes to ``shard-K.log`` in the run's work directory under the
root, kept (with its path printed) when a shard fails.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from .errors import InvalidInput
from .ganeti.qa import shards, timings
from .ganeti.qa.catalogue import Selection
from .ganeti.qa.output import ERROR, FAILED, SKIPPED, TestResult
from .ganeti.qa.report import Report
from .ganeti.qa.shards import Shard, owners, reported_here, selection_to_json
from .ganeti.qa.timings import Timings

POLL = 0.5  # seconds between looks at the children (Ctrl-C is seen in between)


class ShardedRun:
    def __init__(self, root: Path, child_args: list[str], echo: Callable[[str], None],
                 export_dir: Path, global_args: list[str] = ()):
        self.root = root
        self.child_args = child_args      # the qa options every shard gets
        self.global_args = list(global_args)
        self.echo = echo
        self.export_dir = export_dir
        self.work = root / f"qa-shards-{secrets.token_hex(3)}"
        self._lock = threading.Lock()

    def run(self, plan: list[Shard], base: Selection) -> Report:
        start = time.monotonic()
        self.work.mkdir(parents=True)
        children = [self._start(shard, base) for shard in plan]
        try:
            self._wait(children)
        except KeyboardInterrupt:
            self.echo(f"interrupted: stopping {len(children)} shard(s); each brings its "
                      "cluster down")
            for child in children:
                if child["proc"].poll() is None:
                    try:
                        os.killpg(child["proc"].pid, signal.SIGINT)
                    except ProcessLookupError:
                        pass
            for child in children:
                child["proc"].wait()
            self.echo(f"shard logs: {self.work}")
            raise
        finally:
            for child in children:
                child["reader"].join(timeout=10)
                child["log"].close()
        report = merge(plan, base, [self._report(c) for c in children],
                       time.monotonic() - start)
        if report.ok:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            self.echo(f"shard logs: {self.work}")
        return report

    def _start(self, shard: Shard, base: Selection) -> dict:
        n = shard.number
        selection = self.work / f"shard-{n}.selection.json"
        selection.write_text(selection_to_json(shard.selection(base)))
        report = self.work / f"shard-{n}.report.json"
        argv = self.command(selection, report)
        log = open(self.work / f"shard-{n}.log", "w")
        self.echo(f"[shard {n}] starting: {len(shard.owned)} key(s), estimated "
                  f"{shard.seconds / 60:.1f} min")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=log, text=True, errors="replace",
                                cwd=str(self.export_dir), start_new_session=True)
        child = {"shard": shard, "proc": proc, "log": log, "report_path": report}
        child["reader"] = threading.Thread(target=self._echo_lines, args=(n, proc),
                                           daemon=True)
        child["reader"].start()
        return child

    def command(self, selection: Path, report: Path) -> list[str]:
        """A shard's own run: ``vcluster-ns qa`` with its selection, asked
        for its report."""
        return [sys.executable, "-m", "vcluster_ns.entry", *self.global_args,
                "--root", str(self.root), "qa", *self.child_args,
                "--shard-selection", str(selection), "--shard-report", str(report)]

    def _echo_lines(self, number: int, proc: subprocess.Popen) -> None:
        # Always drained: a child blocked on a full pipe would never end.
        for line in proc.stdout:
            with self._lock:
                self.echo(f"[shard {number}] {line.rstrip()}")

    def _wait(self, children: list[dict]) -> None:
        running = list(children)
        while running:
            for child in list(running):
                code = child["proc"].poll()
                if code is not None:
                    running.remove(child)
                    child["code"] = code
                    self.echo(f"[shard {child['shard'].number}] ended, exit {code}")
            if running:
                time.sleep(POLL)

    def _report(self, child: dict) -> tuple[Report | None, int, str]:
        """A child's report, its exit code and its log's path."""
        log = str(self.work / f"shard-{child['shard'].number}.log")
        try:
            report = Report.from_json(child["report_path"].read_text())
        except (OSError, ValueError, TypeError, KeyError):
            return None, child.get("code", -1), log
        return report, child["code"], log


def merge(plan: list[Shard], base: Selection,
          outcomes: list[tuple[Report | None, int, str]], seconds: float,
          ran: list[Shard] | None = None) -> Report:
    """One report of every shard's: each test once, from the shard that owns
    its key (a failure from wherever it happened), with its shard number;
    what was switched off, workarounds, attempts and clusters of all.
    ``outcomes`` are those of the shards ``ran`` (default: the whole plan;
    ``qa --shard K`` runs one)."""
    owner_of = owners(plan)
    merged = Report(results=[], skipped=dict(base.skipped), workarounds={}, attempts=0,
                    shards=len(plan))
    for shard, (report, code, log) in zip(ran or plan, outcomes):
        if report is None:
            merged.results.append(TestResult(
                "vcluster-ns", f"shard {shard.number}", ERROR, list(shard.owned),
                message=f"shard {shard.number} ended (exit {code}) without a report; "
                        f"its log: {log}", shard=shard.number))
            continue
        for test in report.results:
            if reported_here(test.names, test.status in (FAILED, ERROR), shard.number,
                             owner_of):
                test.shard = shard.number
                merged.results.append(test)
        for key, why in report.skipped.items():
            if key not in base.skipped:
                merged.skipped[key] = f"{why} (shard {shard.number})"
        merged.workarounds.update(report.workarounds)
        merged.workaround_uses += report.workaround_uses
        merged.attempts += report.attempts
        merged.clusters += report.clusters
        merged.kept += report.kept
        merged.bundles += report.bundles
        if merged.ganeti_version is None and report.ganeti_version is not None:
            merged.ganeti_version = report.ganeti_version
            merged.ganeti_tree = report.ganeti_tree
        merged.qa_dir = merged.qa_dir or report.qa_dir
    merged.seconds = seconds
    return merged


# -- planning: the timings table, the plan, its listing ---------------------

def timings_for(root: Path, given: list[Path]) -> tuple[Timings, list[str]]:
    """The table to balance by: the built-in one, updated by the table kept
    under ``root`` (earlier runs), then by ``given`` files (JUnit or table),
    in that order; and the names of those sources."""
    table = timings.builtin()
    sources = [f"built-in (Ganeti {table.ganeti_version})"]
    for path in [root / timings.TABLE_NAME, *given]:
        if path == root / timings.TABLE_NAME and not path.exists():
            continue
        try:
            table = table.updated(timings.load(path))
        except (OSError, ValueError) as exc:
            if path in given:
                raise InvalidInput(f"--timings {path}: {exc}",
                                   "give a 'vcluster-ns qa --junit' file") from None
            continue  # a damaged kept table: the built-in one does
        sources.append(str(path))
    return table, sources


def plan_for(installation, selection: Selection, count: int,
             table: Timings) -> list[Shard]:
    """The shards of ``selection``, with what each key needs read from this
    installation's QA."""
    script = installation.script.read_text()
    module = installation.qa_dir / "qa_instance.py"
    needs = shards.requirements(script, module.read_text() if module.exists() else "")
    return shards.plan(shards.selected_keys(selection), count, table, needs)


def describe(plan: list[Shard], table: Timings, sources: list[str]) -> list[str]:
    """``qa --list --shards N``: each shard, its estimate, its keys with
    their times, and what it also switches on."""
    lines = [f"{len(plan)} shard(s); times from {' + '.join(sources)}; estimates "
             f"include {table.setup:.0f}s of QA's setup per shard, not the cluster's "
             "bring-up"]
    for shard in plan:
        lines.append(f"shard {shard.number}: estimated {shard.seconds / 60:.1f} min, "
                     f"{len(shard.owned)} key(s)")
        for key in sorted(shard.owned, key=lambda k: (-table.seconds(k), k)):
            measured = "" if key in table.keys else " (not measured)"
            lines.append(f"  {key:40} {table.seconds(key):7.1f}s{measured}")
        if shard.needed:
            lines.append(f"  also on, as needed: {', '.join(shard.needed)}")
    return lines


def remember_timings(root: Path, report: Report, echo: Callable[[str], None]) -> None:
    """Keep this run's test times in the table under ``root``, for the next
    plan (each key the mean of what was kept and this run: Timings.averaged)."""
    measured = timings.from_results(
        ((t.names, 0.0 if t.status == SKIPPED else t.seconds) for t in report.results),
        report.ganeti_version)
    if not measured.keys:
        return
    path = root / timings.TABLE_NAME
    try:
        table = timings.load(path) if path.exists() else None
    except (OSError, ValueError):
        table = None  # damaged: replaced
    table = measured if table is None else table.averaged(measured)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(table.to_json())
        tmp.replace(path)
    except OSError as exc:
        echo(f"could not keep the test times in {path}: {exc}")


def run_one(runner, plan: list[Shard], number: int, base: Selection, keep_going: bool,
            max_restarts: int) -> Report:
    """``qa --shards N --shard K``: shard K alone, in this process, reported
    as it would be in the merged report (its own tests; setup in shard 1)."""
    if number > len(plan):
        raise InvalidInput(f"--shard {number}: the selection makes only {len(plan)} "
                           "shard(s)", "see 'vcluster-ns qa --list --shards N'")
    shard = plan[number - 1]
    report = runner.run(shard.selection(base), keep_going, max_restarts)
    merged = merge(plan, base, [(report, 0 if report.ok else 1, "")], report.seconds,
                   ran=[shard])
    return merged
