"""``vcluster-ns qa``: Ganeti's QA on fresh clusters, with ``--keep-going``.

One attempt = a fresh cluster with its own name (``qa-XXXXXX``), brought up
without Ganeti's init (QA's first test is ``gnt-cluster init``), the QA
config written from it, and ``ganeti-qa.py --yes-do-it`` run on its master
through ``vcluster-ns run``, output read as it comes (``output.QaOutput``).
Everything about QA itself is in the package ``ganeti.qa``; this module is
the host side that needs clusters (``VirtualCluster``), which is why it
sits outside ``ganeti/``.

QA stops at its first failure.  With ``keep_going`` the failed test's config
key is switched off and a new attempt starts on a fresh cluster, until QA
reaches its end or ``max_restarts``.  A passing attempt's cluster is
destroyed (unless ``keep``); a failed one is kept, its logs exported, and
brought down only when a next attempt starts, to free memory for it.

Which Ganeti was tested is read from the installation each cluster runs,
once it is up, into the report (summary and JUnit) and into the name of a
failed attempt's log bundle.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from .cluster import VirtualCluster
from .errors import EnvironmentUnsupported, OperationFailed, VclusterError
from .ganeti import install
from .ganeti.qa.catalogue import Selection, known_tests, switch_off
from .ganeti.qa.config import ClusterFacts, build_config, facts_from_spec, rename_ip
from .ganeti.qa.output import ERROR, PASSED, SKIPPED, QaOutput, TestResult
from .ganeti.qa.report import Report
from .ganeti.qa.suite import QaInstallation, driver_script
from .spec import ClusterSpec

SYSRQ = "/proc/sysrq-trigger"
QA_LOG = "ganeti-qa.log"
QA_CONFIG = "ganeti-qa.json"
SECONDARY_NETWORK = "198.51.100.0/24"  # TEST-NET-2, private to each cluster
QA_NODE_CPUS = 8


def unique_name(root: Path) -> str:
    while True:
        name = "qa-" + secrets.token_hex(3)
        if not (root / name).exists():
            return name


def workarounds(sysrq_present: bool, rapi: bool = False,
                upgrade: bool = False) -> tuple[dict[str, str], list[str]]:
    """What this machine (or the user, for RAPI and the upgrade test) makes
    us change in QA's checks: (report, driver args)."""
    report: dict[str, str] = {}
    args: list[str] = []
    if not sysrq_present:
        report["ENODESETUP"] = (
            "gnt-cluster verify run with --ignore-errors=ENODESETUP: this kernel has no "
            f"{SYSRQ} (CONFIG_MAGIC_SYSRQ off), which Ganeti's node-setup check requires "
            "for powercycle (refused in vcluster-ns anyway); the /sys part of that check is "
            "ignored with it")
        args += ["--ignore-verify-error", "ENODESETUP"]
    if rapi:
        report["rapi"] = (
            "--rapi: QA's RAPI tests run although QA turns them off in virtual-cluster mode "
            "(qa_rapi: 'TODO: Implement RAPI tests for virtual clusters'); only qa_rapi is "
            "told the cluster is not virtual, so its client talks to the master's RAPI "
            "daemon at the master's own address, as on real machines")
        args += ["--rapi"]
    if upgrade:
        report["upgrade-2.16-keys"] = (
            "QA's TestUpgrade (qa_cluster.py, same in Ganeti master) raises 'Please remove "
            "the key type downgrade code in 2.17' on every version but 2.16, before any "
            "upgrade; it runs without that check and its 2.16-only 'gnt-cluster "
            "renew-crypto --new-ssh-keys --ssh-key-type=dsa'")
        args += ["--upgrade-without-2.16-keys"]
        if not sysrq_present:
            report["ENODESETUP"] += (
                "; gnt-cluster upgrade, which ends with a plain gnt-cluster verify and "
                "fails with it, is judged by a verify with that option when that verify "
                "is its only failed step")
    return report, args


def name_version(bundle: Path, version: str | None) -> Path:
    """An export-logs bundle renamed to say which Ganeti failed
    (``...-ganeti-3.0.2.tar.gz``): bundles of runs on several versions sit
    side by side.  Unchanged if no cluster came up to read it from."""
    if version is None:
        return bundle
    stem = bundle.name.removesuffix(".tar.gz")
    try:
        return bundle.rename(bundle.with_name(f"{stem}-ganeti-{version}.tar.gz"))
    except OSError:
        return bundle  # the logs matter more than their name


class QaRunner:
    def __init__(self, root: Path, nodes: int, installation: QaInstallation,
                 echo: Callable[[str], None], progress: Callable[[str], None],
                 keep: bool = False, export_dir: Path | None = None,
                 spec_fields: dict | None = None, rapi: bool = False,
                 upgrade: tuple[str, str] | None = None):
        self.root = root
        self.spec_fields = spec_fields or {}  # which Ganeti (install.spec_fields)
        self.nodes = nodes
        self.installation = installation
        self.echo = echo
        self.progress = progress
        self.keep = keep
        self.rapi = rapi
        self.upgrade = upgrade  # (dir-version, other-dir-version) for QA's upgrade test
        self.export_dir = export_dir or Path.cwd()
        self.kept: list[str] = []        # clusters left for inspection
        self.bundles: list[Path] = []

    def check(self) -> set[str]:
        """QA's test names; raises what would stop every attempt."""
        ClusterSpec(name="qa-check", nodes=self.nodes, secondary_network=SECONDARY_NETWORK)
        missing = self.installation.missing()
        if missing:
            raise EnvironmentUnsupported(missing, "install the Debian package "
                                         "ganeti-testsuite, or give --qa-dir")
        qa_dir = self.installation.qa_dir
        return known_tests(*(p.read_text() for p in sorted(qa_dir.glob("*.py"))),
                           self.installation.script.read_text())

    def run(self, selection: Selection, keep_going: bool, max_restarts: int) -> Report:
        start = time.monotonic()
        report_workarounds, driver_args = workarounds(os.path.exists(SYSRQ), self.rapi,
                                                       self.upgrade is not None)
        report = Report(results=[], skipped=dict(selection.skipped),
                        workarounds=report_workarounds, attempts=0,
                        qa_dir=str(self.installation.qa_dir))
        attempt = 0
        while True:
            attempt += 1
            last = not keep_going or attempt > max_restarts
            ended_by, cluster = self.attempt(selection, attempt, driver_args, report)
            report.attempts = attempt
            report.clusters.append(cluster)
            if ended_by is None:
                break
            key = switch_off(ended_by, selection) if keep_going else None
            if last or key is None:
                if keep_going and key is None and not last:
                    self.echo(f"{ended_by.func} cannot be switched off (QA runs it "
                              "always): stopping")
                break
            reason = f"--keep-going: {ended_by.func} failed in attempt {attempt}"
            self.bring_down(cluster)  # its files stay; memory goes to the next attempt
            selection = selection.with_skipped(key, reason)
            report.skipped[key] = reason
            self.echo(f"switching off {key!r} and starting again on a fresh cluster "
                      f"(restart {attempt} of at most {max_restarts})")
        report.seconds = time.monotonic() - start
        report.kept = list(self.kept)
        report.bundles = [str(b) for b in self.bundles]
        return report

    def attempt(self, selection: Selection, attempt: int, driver_args: list[str],
                report: Report):
        name = unique_name(self.root)
        vc = VirtualCluster(name, self.root, progress=self.progress)
        # QA runs the watcher itself and wants no cron one (see its sample
        # config).  Its configs give every node a secondary IP, and its ping
        # test fails without (it runs a bare "fping -e" then).
        # QA's performance tests start one instance per configured name at
        # once; with the host's CPUs (2 here) per node hail answers FailCPU.
        # QA runs on real servers: give each node QA_NODE_CPUS.
        spec = ClusterSpec(name=name, nodes=self.nodes, watcher_interval=0,
                           secondary_network=SECONDARY_NETWORK,
                           node_settings={f"node{i}": {"cpus": QA_NODE_CPUS}
                                          for i in range(1, self.nodes + 1)},
                           **self.spec_fields)
        self.echo(f"attempt {attempt}: cluster {name!r} ({self.nodes} nodes)")
        try:
            vc.up(spec, init=False)
            spec = vc.spec()
            # Read from the installation this cluster runs, as the summary
            # and JUnit name it (the spec holds no version: up ran no init).
            report.record_ganeti(install.resolve(spec.ganeti))
            facts = facts_from_spec(spec, vc.paths.dir)
            self.add_hosts(vc, spec, facts)
            out = self.run_qa(vc, spec, facts, selection, attempt, driver_args)
        except KeyboardInterrupt:
            # Ctrl-C: QA (our child) got the signal too; leave no cluster running.
            self.echo(f"interrupted: bringing {name!r} down (its files stay)")
            try:
                vc.down()
            except VclusterError:
                pass
            raise
        except VclusterError as exc:
            if attempt == 1 and not vc.exists():
                raise  # nothing made, nothing run: the error is the answer
            if attempt == 1 and not report.results:
                self.keep_failed(vc, report)
                raise
            result = TestResult("vcluster-ns", "cluster bring-up", ERROR,
                                message=exc.one_line(), attempt=attempt)
            report.results.append(result)
            self.echo(f"  ERROR   cluster bring-up: {exc.one_line()}")
            self.keep_failed(vc, report)
            return None, name  # not QA's failure: no test to switch off
        report.results.extend(out.results)
        report.workaround_uses += len(out.workarounds)
        ended_by = out.ended_by
        if ended_by is None and out.exit_code == 0:
            if self.keep:
                self.kept.append(name)
                self.echo(f"cluster {name!r} kept (--keep)")
            else:
                vc.destroy()
            return None, name
        self.keep_failed(vc, report)
        return ended_by, name

    def keep_failed(self, vc: VirtualCluster, report: Report) -> None:
        """Export a failed attempt's logs and keep its cluster, up: run()
        brings it down only when another attempt follows."""
        try:
            if vc.exists():
                bundle = vc.export_logs(self.export_dir)
                self.bundles.append(name_version(bundle, report.ganeti_version))
                self.echo(f"logs of {vc.name!r}: {self.bundles[-1]}")
                self.kept.append(vc.name)
        except VclusterError as exc:
            self.echo(f"could not keep {vc.name!r}'s logs: {exc.one_line()}")

    def bring_down(self, name: str) -> None:
        try:
            VirtualCluster(name, self.root, progress=self.progress).down()
        except VclusterError as exc:
            self.echo(f"could not bring {name!r} down: {exc.one_line()}")

    def add_hosts(self, vc: VirtualCluster, spec: ClusterSpec, facts: ClusterFacts) -> None:
        """QA renames the cluster and back; the new name must resolve, to an
        address of its own: with the cluster's IP, glibc ("multi on") gives
        the old name as the canonical one, and Ganeti answers "Neither the
        name nor the IP address of the cluster has changed".  The rename
        moves the master IP there and back.  Added inside the cluster, as
        Ganeti would, to the cluster's own /etc/hosts."""
        line = f"{rename_ip(spec)}\t{facts.rename}"
        done = vc.run(spec.master_node, "/bin/sh", "-c", f"echo '{line}' >> /etc/hosts")
        if done.returncode != 0:
            raise OperationFailed(f"cannot add {facts.rename} to the cluster's /etc/hosts: "
                                  f"{done.stderr.strip()}")

    def run_qa(self, vc: VirtualCluster, spec: ClusterSpec, facts: ClusterFacts,
               selection: Selection, attempt: int, driver_args: list[str]) -> "Finished":
        logdir = vc.paths.node_log_dir(spec.master_node)
        config = logdir / QA_CONFIG
        config.write_text(json.dumps(build_config(facts, selection, self.upgrade), indent=2) + "\n")
        inst = self.installation.staged(vc.paths.dir / "qa-suite")
        # The controller must not act as a node: no GANETI_ROOTDIR/HOSTNAME
        # (QA adds each node's root itself, from vcluster-basedir).
        argv = [sys.executable, "-m", "vcluster_ns.entry", "--root", str(self.root),
                "--cluster", vc.name, "run", spec.master_node, "--",
                "env", "-u", "GANETI_ROOTDIR", "-u", "GANETI_HOSTNAME",
                f"PYTHONPATH={':'.join(inst.pythonpath)}",
                inst.python, "-u", str(driver_script()), *driver_args,
                str(inst.script), "--yes-do-it", str(config)]
        out = QaOutput(on_result=self.show, attempt=attempt,
                       on_start=lambda t: self.progress(f"running {t.func}: {t.description}"))
        self.progress(f"ganeti-qa.py running; its output: {logdir / QA_LOG}")
        with open(logdir / QA_LOG, "w") as log, subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, errors="replace",
                cwd=str(vc.paths.dir)) as proc:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                out.feed(line)
            code = proc.wait()
        ended_by = out.close(code)
        return Finished(out.results, out.workarounds, code, ended_by)

    def show(self, test: TestResult) -> None:
        if test.status == SKIPPED:
            return
        took = "" if test.seconds is None else f" ({test.seconds:.1f}s)"
        line = f"  {test.status.upper():7} {test.func}{took}"
        if test.status != PASSED and test.message:
            line += f": {test.message.splitlines()[0][:160]}"
        self.echo(line)


@dataclasses.dataclass
class Finished:
    """One QA run: its results, workaround lines, exit status, and the test
    that ended it (None if QA reached its end)."""

    results: list[TestResult]
    workarounds: list[str]
    exit_code: int
    ended_by: TestResult | None
