"""``vcluster-ns qa``: Ganeti's own QA on a fresh virtual cluster, whole or
in shards (the work is in qa_run.py, qa_shards.py and ganeti/qa/)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import ui
from .cli_common import Context, pass_ctx
from .errors import ExitCode, VclusterError
from .roots import default_root
from .spec import DEFAULT_NODES


@click.command("qa")
@click.option("--nodes", "-n", type=int, default=DEFAULT_NODES, show_default=True,
              help="Nodes of each QA cluster.")
@click.option("--only", multiple=True, metavar="TEST",
              help="Run only this QA test (a key of QA's config \"tests\"); repeatable. "
                   "QA's own setup (create-cluster, default-instance-tests) stays on.")
@click.option("--skip", multiple=True, metavar="TEST", help="Switch this QA test off; repeatable.")
@click.option("--keep-going", is_flag=True,
              help="After a failure, switch the failed test off and run QA again on a "
                   "fresh cluster; report every failure at the end (per shard).")
@click.option("--max-restarts", type=click.IntRange(0), default=10, show_default=True,
              help="With --keep-going: at most this many fresh starts (per shard).")
@click.option("--shards", type=click.IntRange(1), default=1, show_default=True, metavar="N",
              help="Split the selected tests into N shards, each run side by side on a "
                   "fresh cluster of its own, balanced by each test's measured time "
                   "(longest first); one summary and one JUnit file. With --list: "
                   "show which tests go where.")
@click.option("--shard", "shard_only", type=click.IntRange(1), default=None, metavar="K",
              help="With --shards N: run only shard K of the N, here, alone (for CI "
                   "machines that each take one shard, and to time one shard).")
@click.option("--timings", multiple=True, type=click.Path(dir_okay=False, exists=True),
              metavar="FILE",
              help="With --shards: test times to balance by, from a 'qa --junit' file or "
                   "a timings table; repeatable (default: the table kept under --root "
                   "from earlier runs, then the built-in one).")
@click.option("--junit", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Write the results as JUnit XML.")
@click.option("--keep", is_flag=True, help="Keep a passing run's cluster too.")
@click.option("--list", "list_", is_flag=True, help="List QA's test names and the "
              "built-in skips (with --shards N: the shards), then exit.")
@click.option("--qa-dir", type=click.Path(file_okay=False, exists=True), metavar="DIR",
              help="Ganeti's qa/ directory to run (default: the installation's QA, "
                   "Debian's ganeti-testsuite; a 'make install' tree has none: give "
                   "your checkout's qa/).")
@click.option("--ganeti", "ganeti_tree", metavar="PATH", default=None,
              help="Run QA against the Ganeti installed in PATH (see 'up --ganeti').")
@click.option("--ganeti-extra", "ganeti_extra", metavar="PATH", default=None,
              help="A second Ganeti installed beside it (see 'up --ganeti-extra'): QA's "
                   "upgrade test (cluster-upgrade) runs, from the cluster's version to "
                   "this one and back.")
@click.option("--rapi", is_flag=True,
              help="Also run QA's RAPI tests, which QA itself turns off on virtual "
                   "clusters; a vcluster-ns node has its own address, so they can reach "
                   "the master's RAPI daemon. Reported as a workaround.")
@click.option("--shard-selection", hidden=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--shard-report", hidden=True, type=click.Path(dir_okay=False))
@pass_ctx
def qa_command(obj: Context, nodes, only, skip, keep_going, max_restarts, shards, shard_only,
               timings, junit, keep, list_, qa_dir, ganeti_tree, ganeti_extra, rapi, shard_selection,
               shard_report):
    """Run Ganeti's own QA (ganeti-qa.py) on a fresh cluster.

    Each run gets its own cluster (qa-XXXXXX under --root), so runs can go
    side by side. Tests print as they end; a summary follows. Exit 0 only
    if every selected test passed. A failed run's cluster is kept and its
    logs exported (export-logs bundle next to the --junit file, else in the
    current directory); a passing run's cluster is removed unless --keep.

    With --shards N the tests are split into N shards that run at once,
    each on its own cluster with QA's own setup and what its tests need
    (their instances); a shard's failure does not stop the others, and
    Ctrl-C stops them all, each bringing its cluster down.

    \b
    Examples:
      vcluster-ns qa --only cluster-verify --only instance-add-diskless
      vcluster-ns qa --keep-going --junit qa.xml
      vcluster-ns qa --shards 4 --keep-going --junit qa.xml
      vcluster-ns qa --list --shards 4
      vcluster-ns qa --ganeti-extra ~/gnt-3.1 --only cluster-upgrade
    """
    from .ganeti import install
    from .ganeti.qa import catalogue, report as qa_report, suite
    from .qa_run import QaRunner
    from . import qa_shards

    extras = [ganeti_extra] if ganeti_extra else []
    ganeti_fields = install.spec_fields(ganeti_tree, extras) \
        if ganeti_tree or extras else {}
    tree = install.from_tree(ganeti_tree) if ganeti_tree else None
    if tree is not None and qa_dir is None and tree.qa_dir() is None:
        raise click.UsageError(f"the tree {tree.root} has no QA suite ('make install' "
                               "does not install it): give --qa-dir CHECKOUT/qa")
    installation = suite.qa_installation(
        root=tree.root if tree else Path("/"),
        qa_dir=Path(qa_dir).absolute() if qa_dir else (tree.qa_dir() if tree else None),
        package_dir=tree.share_dir if tree else None)
    # QA's upgrade test flips between the installation's version directory
    # and the extra one's (QA config: dir-version, other-dir-version).
    upgrade = (install.resolve(ganeti_tree).dir_version,
               install.from_tree(ganeti_extra, "--ganeti-extra").dir_version) \
        if ganeti_extra else None
    root = Path(obj.root) if obj.root else default_root()
    # A failed run's export-logs bundle goes next to the JUnit file.
    export_dir = Path(junit).absolute().parent if junit else Path.cwd()
    runner = QaRunner(root, nodes, installation, echo=click.echo, progress=obj.progress,
                      keep=keep, export_dir=export_dir, spec_fields=ganeti_fields,
                      rapi=rapi, upgrade=upgrade)
    known = runner.check()
    # The built-in skips hold on version ranges: compared with the version
    # of the installation the clusters will run, read from it.
    version = tree.version if tree else _system_ganeti_version()
    if shard_selection:  # one shard of a --shards run: its parent chose the tests
        from .ganeti.qa.shards import selection_from_json
        selection = selection_from_json(Path(shard_selection).read_text())
    else:
        builtin = {k: v for k, v in catalogue.SKIPS.items()
                   if not (upgrade and k == "cluster-upgrade")}
        selection = catalogue.select(known, list(only), list(skip), version=version,
                                     builtin=builtin)
    if shard_only is not None and shard_only > shards:
        raise click.UsageError(f"--shard {shard_only}: there are only --shards {shards}")
    if list_ and shards == 1:
        _qa_list(known, version)
        return
    if shards > 1:
        table, sources = qa_shards.timings_for(root, [Path(t) for t in timings])
        plan = qa_shards.plan_for(installation, selection, shards, table)
        if list_:
            for line in qa_shards.describe(plan, table, sources):
                click.echo(line)
            return
        if shard_only is not None:
            report = qa_shards.run_one(runner, plan, shard_only, selection, keep_going,
                                       max_restarts)
        else:
            child_args = _qa_child_args(nodes, keep_going, max_restarts, keep, qa_dir,
                                        ganeti_tree, ganeti_extra, rapi)
            sharded = qa_shards.ShardedRun(root, child_args, echo=click.echo,
                                           export_dir=export_dir)
            report = sharded.run(plan, selection)
    else:
        report = runner.run(selection, keep_going, max_restarts)
    if shard_report:
        Path(shard_report).write_text(report.to_json())
        return  # the parent sums up
    qa_shards.remember_timings(root, report, click.echo)
    _qa_summary(report)
    if junit:
        Path(junit).write_text(qa_report.junit_xml(report))
        click.echo(f"JUnit XML: {junit}")
    if not report.ok:
        sys.exit(int(ExitCode.FAILED))


def _system_ganeti_version() -> str | None:
    """The system Ganeti's version; None if it is not installed (then QA
    cannot run, but --list still can, with every built-in skip)."""
    from .ganeti import install
    try:
        return install.system().version
    except VclusterError:
        return None


def _qa_list(known: set[str], version: str | None) -> None:
    """QA's test names; a built-in skip with its reason and range, and
    whether it holds for the Ganeti under test."""
    from .ganeti.qa.skips import SKIPS

    for name in sorted(known):
        entry = SKIPS.get(name)
        if entry is None:
            click.echo(name)
        elif entry.holds_for(version):
            click.echo(f"{name}  (skipped: {entry.describe()})")
        else:
            click.echo(f"{name}  (runs on Ganeti {version}; skipped only on "
                       f"{entry.versions}: {entry.reason})")
    click.echo(f"\nbuilt-in skips for Ganeti {version}" if version else
               "\nno Ganeti installed: every built-in skip listed as holding")


def _qa_child_args(nodes, keep_going, max_restarts, keep, qa_dir, ganeti_tree,
                   ganeti_extra, rapi) -> list[str]:
    """The options each shard's own 'vcluster-ns qa' gets from its parent."""
    args = ["--nodes", str(nodes), "--max-restarts", str(max_restarts)]
    for flag, on in (("--keep-going", keep_going), ("--keep", keep), ("--rapi", rapi)):
        if on:
            args.append(flag)
    for option, value in (("--qa-dir", qa_dir), ("--ganeti", ganeti_tree),
                          ("--ganeti-extra", ganeti_extra)):
        if value:
            args += [option, str(Path(value).absolute())]
    return args


def _qa_summary(report) -> None:
    from .ganeti.qa.output import ERROR, FAILED
    from .ganeti.qa.report import summary_header, summary_rows

    counts = report.counts()
    click.echo()
    rows = summary_rows(report)
    if rows:
        for line in ui.table(rows, summary_header(report)):
            click.echo(line)
    if report.skipped:
        click.echo("\nswitched off:")
        for name, why in sorted(report.skipped.items()):
            click.echo(f"  {name}: {why}")
    if report.workarounds:
        click.echo(f"\nworkarounds ({report.workaround_uses} command(s) changed):")
        for what, why in report.workarounds.items():
            click.echo(f"  {what}: {why}")
    failed = [t for t in report.results if t.status in (FAILED, ERROR)]
    if failed:
        click.echo("\nfailures:")
        for t in failed:
            click.echo(f"  {t.func} (attempt {t.attempt}): {t.message.splitlines()[0] if t.message else t.status}")
    if report.kept:
        click.echo(f"\nclusters kept: {', '.join(report.kept)} (remove with 'vcluster-ns "
                   "--cluster NAME destroy --yes')")
    click.echo()
    tested = report.tested()  # which Ganeti: a CI log must say what it tested
    if tested:
        click.echo(tested + (f", QA from {report.qa_dir}" if report.qa_dir else ""))
    shards = f" in {report.shards} shards" if report.shards else ""
    click.echo(f"QA{shards}: {counts['passed']} passed, {counts['failed']} failed, "
               f"{counts['error']} errors, {counts['skipped']} skipped by QA, "
               f"{len(report.skipped)} config keys switched off; {report.attempts} attempt(s) "
               f"in {report.seconds:.0f}s")
