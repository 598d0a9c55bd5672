"""Recovery holds at every point of a bring-up, not only at chosen ones.

A whole ``up`` of 3 nodes (a candidate pool of 2: the linear join's every
step is on the way, see ganeti/join.py) is timed once; then ``up`` is cut at points
spread evenly over that length, shifted by a random phase each run (so that
runs together cover every moment; the report gives the phase, and
VCLUSTER_NS_CUT_PHASE replays it), alternately with SIGKILL (of ``up`` alone:
a crash) and SIGINT (to its whole process group, as a terminal's Ctrl-C
reaches it and every command it runs), and ``up`` runs once more.  Each run
must end in a complete cluster (every node listed by Ganeti, every node's
daemons running, ``status`` saying up) or in one error line whose hint
names ``destroy``.  The cut point is the variable under test, so the wait
before it is a timed one; every other wait is on a condition.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import pytest

from helpers import Cli, incomplete, left_over, unique_name, wait_for
from hostsnap import HostSnapshot

pytestmark = pytest.mark.ganeti

POINTS = int(os.environ.get("VCLUSTER_NS_CUT_POINTS", "8"))
NODES = ("node1", "node2", "node3")
# A candidate pool of 2, so that the default (linear) join goes through all
# of its steps: the pool at 1, node2 and node3 added and each sent offline,
# both brought online, node2 made a candidate, the pool back to 2
# (ganeti/join.py).
CLUSTER_FILE = "node_count = 3\n[cluster]\ncandidate_pool_size = 2\n"
UP = ("up", "--watcher-interval", "0", "-f")  # + the cluster file's path


def cut(cli: Cli, up: tuple[str, ...], after: float, signum: int) -> tuple[bool, str]:
    """Start ``up``, send ``signum`` ``after`` seconds into it; (hit, stderr).
    ``hit`` is False when ``up`` had ended before the cut."""
    err = cli.root.parent / "cut.err"
    with open(err, "w") as out:
        proc = subprocess.Popen(cli.argv(*up), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=out, start_new_session=True)
    try:
        proc.wait(timeout=after)
        return False, err.read_text()
    except subprocess.TimeoutExpired:
        pass
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole group
    else:
        proc.send_signal(signum)
    proc.wait(timeout=300)
    return True, err.read_text()


def pool_problems(cli: Cli) -> list[str]:
    """The pool as asked (a cut join may have left it at 1), two candidates."""
    info = cli("run", "master", "gnt-cluster", "info").stdout
    roles = cli("run", "master", "gnt-node", "list", "--no-headers", "-o", "role").stdout
    problems = []
    if "candidate pool size: 2" not in info:
        problems.append("candidate pool size is not 2")
    if sorted(roles.split()) != ["C", "M", "R"]:
        problems.append(f"roles {sorted(roles.split())}")
    return problems


def test_an_up_cut_anywhere_ends_whole_after_one_more_up(tmp_path_factory):
    before = HostSnapshot.take()
    cli = Cli(tmp_path_factory.mktemp("cut") / "clusters", unique_name("cut"))
    cluster_file = cli.root.parent / "pool2.toml"
    cluster_file.write_text(CLUSTER_FILE)
    up = (*UP, str(cluster_file))
    start = time.monotonic()
    cli(*up)
    length = time.monotonic() - start
    cli("destroy", "--yes")
    outcomes, hits = [], 0
    phase = float(os.environ.get("VCLUSTER_NS_CUT_PHASE", random.random()))
    for i in range(POINTS):
        after = length * (0.03 + 0.9 * (i + phase) / POINTS)
        signum = signal.SIGKILL if i % 2 == 0 else signal.SIGINT
        hit, cut_err = cut(cli, up, after, signum)
        for _ in range(2):
            # A cut after up ended tests nothing.  Tests side by side
            # (scripts/test's workers) change the load, so an up may be much
            # faster than the timed one: destroy what it made, cut at half.
            if hit:
                break
            cli("destroy", "--yes")
            after /= 2
            hit, cut_err = cut(cli, up, after, signum)
        hits += hit
        again = cli("up", check=False)
        label = f"cut {i + 1}/{POINTS} at {after:.1f}s of {length:.1f}s by {signum.name}"
        if again.returncode == 0:
            problems = incomplete(cli, NODES) + pool_problems(cli)
            outcomes.append((label, "whole" if not problems else f"INCOMPLETE {problems}",
                             again.stderr))
        else:
            lines = again.stderr.strip().splitlines()
            one_line = (len([l for l in lines if l.startswith("Error:")]) == 1
                        and lines[-1].startswith("Error:") and "destroy" in lines[-1]
                        and "Traceback" not in again.stderr)
            outcomes.append((label, "named destroy" if one_line else f"FAILED {lines[-3:]}",
                             again.stderr))
        cli("destroy", "--yes")
    report = f"phase {phase:.3f} (VCLUSTER_NS_CUT_PHASE)\n" + "\n".join(
        f"{label}: {verdict}" for label, verdict, _ in outcomes)
    print(report)
    bad = [(label, verdict, err) for label, verdict, err in outcomes
           if verdict not in ("whole", "named destroy")]
    assert not bad, report + "\n\n" + "\n".join(f"{l}:\n{e}" for l, _, e in bad)
    assert hits >= POINTS // 2, f"only {hits} of {POINTS} cuts came before up ended\n{report}"
    assert wait_for(lambda: not left_over(before, cli), 60, what="nothing left on the host")
