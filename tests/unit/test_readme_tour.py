"""README.md's tour runs top to bottom as written: its order, checked without
running it (tests/ganeti/test_readme_tour.py runs it for real)."""

from __future__ import annotations

import pytest

from readme_tour import tour_lines, vcluster_ns_args, words

NEEDS_UP = {"run", "shell", "node", "net", "kill"}


def play(lines: list[str]) -> tuple[dict[str, str], set[str]]:
    """Walk the tour: every cluster's state and the snapshots left at its end.
    A step that would fail raises AssertionError naming it."""
    clusters: dict[str, str] = {}
    snapshots: set[str] = set()
    on_path = False
    for line in lines:
        argv = words(line)
        if argv[:1] == ["export"] and any(w.startswith("PATH=") and ".venv/bin" in w
                                          for w in argv):
            on_path = True
            continue
        found = vcluster_ns_args(line)
        if found is None:
            continue
        assert on_path or argv[0] == ".venv/bin/vcluster-ns", \
            f"{line!r}: vcluster-ns is not on PATH yet (export PATH=\"$PWD/.venv/bin:$PATH\")"
        cluster, args = found
        command, state = args[0], clusters.get(cluster, "absent")
        assert "--ganeti" not in args, f"{line!r}: needs a Ganeti build scripts/setup does not make"
        if command == "up":
            if "--from-snapshot" in args:
                name = args[args.index("--from-snapshot") + 1]
                assert name in snapshots, f"{line!r}: no snapshot {name!r} yet"
                assert state == "absent" or "--reset" in args and state == "down", \
                    f"{line!r}: cluster {cluster!r} exists ({state})"
            clusters[cluster] = "up"
        elif command == "down":
            assert state != "absent", f"{line!r}: no cluster {cluster!r}"
            clusters[cluster] = "down"
        elif command == "destroy":
            assert state != "absent", f"{line!r}: no cluster {cluster!r}"
            assert "--yes" in args, f"{line!r}: asks on a terminal, refused without one"
            del clusters[cluster]
        elif command == "snapshot":
            name = next(a for a in args[1:] if not a.startswith("-"))
            if "--delete" in args:
                assert name in snapshots, f"{line!r}: no snapshot {name!r}"
                snapshots.discard(name)
            else:
                assert state == "down" or state == "up" and "--stop" in args, \
                    f"{line!r}: cluster {cluster!r} is {state} (snapshot needs it down, " \
                    "or --stop)"
                snapshots.add(name)
        elif command in NEEDS_UP:
            assert state == "up", f"{line!r}: cluster {cluster!r} is {state}"
    return clusters, snapshots


def test_the_tour_is_found():
    lines = tour_lines()
    assert len(lines) > 10
    assert sum(1 for line in lines if vcluster_ns_args(line)) > 10


def test_the_tour_runs_top_to_bottom_and_leaves_nothing():
    clusters, snapshots = play(tour_lines())
    assert clusters == {}, f"the tour leaves clusters behind: {clusters}"
    assert snapshots == set(), f"the tour leaves snapshots behind: {snapshots}"


# The tour before issue 19: snapshot while up, try1 left running.
OLD_TOUR = """## A short tour

    vcluster-ns up --nodes 3                 # ~9 s
    vcluster-ns run node1 gnt-node list
    vcluster-ns down                         # stop everything; files kept
    vcluster-ns up                           # same cluster back in ~2 s
    vcluster-ns snapshot prepared            # (cluster down) save it all
    vcluster-ns --cluster try1 up --from-snapshot prepared   # a copy of it
    vcluster-ns destroy --yes                # down, then remove the cluster directory

Each node ...
"""


EXPORT = 'export PATH="$PWD/.venv/bin:$PATH"'


def test_the_old_tour_is_caught():
    old = tour_lines(OLD_TOUR)
    with pytest.raises(AssertionError, match="not on PATH"):
        play(old)
    with pytest.raises(AssertionError, match=r"is up \(snapshot needs it down"):
        play([EXPORT, *old])
    stopped = [line.replace("ns snapshot prepared", "ns snapshot --stop prepared") for line in old]
    clusters, snapshots = play([EXPORT, *stopped])
    assert clusters == {"try1": "up"} and snapshots == {"prepared"}
