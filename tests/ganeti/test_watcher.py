"""ganeti-watcher on a schedule, as cron runs it on real nodes: every
--watcher-interval seconds on every joined node, starting when ``up`` is over."""

from __future__ import annotations

import datetime
import time

from helpers import Cli, wait_for


def first_run(log_file) -> float | None:
    """When ganeti-watcher first wrote to its log (its lines start with local time)."""
    try:
        first = log_file.read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    stamp = first.split(": ", 1)[0]
    return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def test_watcher_runs_on_every_node_once_up_is_over(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("watcher") / "clusters")
    try:
        # A 1 s schedule against a bring-up of several seconds: before the
        # schedule waited for up, node1 (joined first) had watcher runs
        # while the other nodes were still being added.
        cli("up", "--nodes", "3", "--watcher-interval", "1")
        up_done = time.time()
        logs = {node: cli.dir / node / "var/log/ganeti/watcher.log"
                for node in ("node1", "node2", "node3")}
        wait_for(lambda: all(first_run(log) for log in logs.values()), 120,
                 what="ganeti-watcher to run on every node")
        for node, log in logs.items():
            assert first_run(log) >= up_done - 0.5, (node, log.read_text()[:300])
    finally:
        cli("down", check=False)
