"""Snapshots of real clusters (started with --no-init) through the CLI
subprocess: every bad-input row of docs/errors.md about snapshots, --stop, a
round trip under a new name, --reset, and a full disk.

Ganeti's own state across a snapshot is tested in tests/ganeti/test_snapshot.py.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from helpers import Cli, unique_name

from .test_bad_input import assert_one_error_line, assert_usage_error, left_as_it_was, tree
from .test_faults import unshare_available


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A 2-node cluster that was up once and is down, and its snapshot 'base'."""
    cli = Cli(tmp_path_factory.mktemp("snap") / "clusters", unique_name("snap"))
    cli("up", "--no-init", "--nodes", "2")
    cli("down")
    cli("snapshot", "base")
    yield cli
    if cli.pid1():
        cli("down", check=False)


@pytest.fixture
def unchanged(saved):
    """The saved cluster and its snapshots, which the test must leave as they were."""
    yield from left_as_it_was(saved)


def other(saved: Cli, name: str | None = None) -> Cli:
    """Another cluster name under the same root (where the snapshots are)."""
    return Cli(saved.root, name or unique_name("copy"))


# -- bad input: one line, the documented code, nothing created or changed ----

NAME_HINT = "(use lowercase letters, digits and '-'"

BAD = [
    pytest.param(["snapshot", "Bad/Name"], 2, ["invalid snapshot name 'Bad/Name'", NAME_HINT],
                 id="invalid-name"),
    pytest.param(["snapshot", "base"], 2,
                 ["snapshot 'base' already exists (pass --force to replace it, or choose "
                  "another name)"], id="existing-name"),
    pytest.param(["snapshot", "--delete", "nope"], 2,
                 ["no snapshot named 'nope' in ", "(see 'vcluster-ns snapshot --list')"],
                 id="delete-unknown"),
    pytest.param(["up", "--from-snapshot", "base"], 2,
                 ["already exists (pass --reset to replace it with the snapshot, or use "
                  "--cluster OTHER)"], id="restore-over-existing"),
]

BAD_NEW_CLUSTER = [
    pytest.param(["up", "--no-init", "--from-snapshot", "nope"], 2,
                 ["no snapshot named 'nope' in ", "(see 'vcluster-ns snapshot --list')"],
                 id="restore-unknown"),
    pytest.param(["up", "--no-init", "--from-snapshot", "Bad"], 2,
                 ["invalid snapshot name 'Bad'", NAME_HINT], id="restore-invalid-name"),
    pytest.param(["up", "--no-init", "--from-snapshot", "base", "--nodes", "3"], 2,
                 ["the snapshot's cluster has nodes 2, not 3 (leave out --nodes: a restored "
                  "cluster keeps the snapshot's nodes, network, domain and instances)"],
                 id="restore-other-nodes"),
    pytest.param(["up", "--no-init", "--from-snapshot", "base", "--network", "10.9.0.0/16"], 2,
                 ["the snapshot's cluster has network '192.0.2.0/24', not '10.9.0.0/16'"],
                 id="restore-other-network"),
    pytest.param(["snapshot", "x"], 5, ["no cluster named", "(create it with 'vcluster-ns up')"],
                 id="snapshot-no-such-cluster"),
]


@pytest.mark.parametrize("args,code,fragments", BAD)
def test_bad_input_about_the_saved_cluster(unchanged, args, code, fragments):
    assert_one_error_line(unchanged(*args, check=False), code, *fragments)


@pytest.mark.parametrize("args,code,fragments", BAD_NEW_CLUSTER)
def test_bad_input_for_a_new_cluster(unchanged, args, code, fragments):
    assert_one_error_line(other(unchanged)(*args, check=False), code, *fragments)


def test_reset_without_a_snapshot_is_a_usage_error(unchanged):
    assert_usage_error(unchanged("up", "--reset", check=False),
                       "--reset needs --from-snapshot NAME")


def test_corrupted_snapshot_is_refused(saved):
    description = saved.root / ".snapshots/base/snapshot.json"
    original = description.read_text()
    description.write_text("{broken")
    try:
        before = tree(saved.root)
        copy = other(saved)
        line = assert_one_error_line(copy("up", "--no-init", "--from-snapshot", "base",
                                          check=False), 1, "corrupted snapshot 'base': ")
        assert line.endswith("(delete it with 'vcluster-ns snapshot --delete base')")
        listing = saved("snapshot", "--list").stdout
        assert "corrupted" in listing
        assert tree(saved.root) == before
    finally:
        description.write_text(original)


def test_an_up_cluster_is_refused_unless_stop(saved):
    saved("up", "--no-init")
    try:
        refused = saved("snapshot", "other", check=False)
        assert_one_error_line(refused, 2, f"cluster '{saved.cluster}' is up (run 'vcluster-ns "
                              "down' first, or pass --stop to down it, snapshot it and bring "
                              "it back up)")
        reset = saved("up", "--no-init", "--from-snapshot", "base", "--reset", check=False)
        assert_one_error_line(reset, 2, f"cluster '{saved.cluster}' is up (run 'vcluster-ns "
                              "down' first, then --reset replaces it)")
        assert sorted(os.listdir(saved.root / ".snapshots")) == ["base"]
        pid1 = saved.pid1()
        assert pid1
        # --stop: down, copy, up again (a new pid 1), the snapshot taken.
        saved("snapshot", "--stop", "stopped")
        assert saved.pid1() not in (None, pid1)
        assert saved("run", "node2", "true").returncode == 0
        assert (saved.root / ".snapshots/stopped/tree/cluster.json").is_file()
    finally:
        saved("down")
    saved("snapshot", "--delete", "stopped")
    assert sorted(os.listdir(saved.root / ".snapshots")) == ["base"]


# -- round trips ------------------------------------------------------------

def test_restore_under_a_new_name(saved):
    copy = other(saved)
    result = copy("up", "--no-init", "--from-snapshot", "base")
    try:
        assert f"restoring snapshot 'base' into {copy.dir}" in result.stderr
        assert copy("run", "node2", "true").returncode == 0
        spec = json.loads((copy.dir / "cluster.json").read_text())
        assert (spec["name"], spec["nodes"]) == (copy.cluster, 2)
        # Everything that names the cluster directory names the new one.
        assert f"--cluster {copy.cluster} run" in (copy.dir / "cmd").read_text()
        assert str(copy.dir) in (copy.dir / "shims/usr/bin/ssh").read_text()
        assert str(saved.dir) not in (copy.dir / "shims/usr/bin/ssh").read_text()
        assert sorted(n for n in os.listdir(saved.root) if n.startswith(".")) == [".snapshots"]
    finally:
        copy("down")
    copy("destroy", "--yes")


def test_reset_puts_a_down_cluster_back(saved):
    copy = other(saved)
    copy("up", "--no-init", "--from-snapshot", "base")
    copy("down")
    (copy.dir / "etc/changed-after-the-snapshot").write_text("x\n")
    copy("up", "--no-init", "--from-snapshot", "base", "--reset")
    try:
        assert not (copy.dir / "etc/changed-after-the-snapshot").exists()
        assert copy("run", "node1", "true").returncode == 0
    finally:
        copy("down")
    copy("destroy", "--yes")
    assert sorted(n for n in os.listdir(saved.root) if n.startswith(".")) == [".snapshots"]


def test_files_deleted_from_etc_stay_deleted(saved):
    """/etc is an overlay: a deletion is a whiteout (a 0:0 character device),
    which the copy keeps (Linux lets anyone create whiteouts)."""
    copy, again = other(saved), other(saved)
    copy("up", "--no-init", "--from-snapshot", "base")
    try:
        copy("run", "node1", "rm", "/etc/hostname")
    finally:
        copy("down")
    copy("snapshot", "deleted")
    again("up", "--no-init", "--from-snapshot", "deleted")
    try:
        assert again("run", "node1", "test", "-e", "/etc/hostname", check=False).returncode == 1
    finally:
        again("down")
    for cli in (copy, again):
        cli("destroy", "--yes")
    saved("snapshot", "--delete", "deleted")


def test_list_and_delete(saved):
    saved("snapshot", "listed")
    listing = saved("snapshot", "--list").stdout.splitlines()
    assert listing[0].split() == ["NAME", "CLUSTER", "NODES", "NETWORK", "SIZE", "CREATED"]
    assert [line.split()[:4] for line in listing[1:]] == [
        ["base", saved.cluster, "2", "192.0.2.0/24"],
        ["listed", saved.cluster, "2", "192.0.2.0/24"]]
    described = json.loads(saved("snapshot", "--list", "--json").stdout)
    assert [(d["name"], d["source_dir"]) for d in described] == [
        ("base", str(saved.dir)), ("listed", str(saved.dir))]
    assert saved("snapshot", "--delete", "listed").stdout == "snapshot 'listed' deleted\n"
    assert sorted(os.listdir(saved.root / ".snapshots")) == ["base"]


# -- a full disk --------------------------------------------------------------

# In a user and mount namespace of our own, on a small tmpfs: make a cluster
# (PREPARE), fill the disk to the last 40 KiB, then run the command under test.
ON_FULL_DISK = r'''
mnt="$1"; shift
mount -t tmpfs -o size=8m vcluster-ns-test "$mnt" || exit 99
eval "$PREPARE" >/dev/null 2>&1 || exit 98
avail=$(df --output=avail -B1 "$mnt" | tail -1)
head -c $((avail - 40960)) /dev/zero > "$mnt/filler" 2>/dev/null
"$@"; code=$?
if [ "$code" = 0 ]; then eval "$DOWN" >/dev/null 2>&1; fi  # not expected: clean up
echo "LEFT:$(ls -A "$mnt/clusters" | tr '\n' ' ')|$(ls -A "$mnt/clusters/.snapshots" | tr '\n' ' ')"
exit $code
'''


def _on_full_disk(tmp_path, prepare: list[list[str]], *args: str):
    """(the command's result without the LEFT line, what --root holds afterwards)."""
    if not unshare_available():
        pytest.skip("unshare --user --map-root-user --mount is not available")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cli, copy = Cli(mnt / "clusters", "src"), Cli(mnt / "clusters", "copy")
    env = {**os.environ,
           "PREPARE": " && ".join(subprocess.list2cmdline(cli.argv(*a)) for a in prepare),
           "DOWN": subprocess.list2cmdline(copy.argv("down"))}
    result = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", ON_FULL_DISK,
         "sh", str(mnt), *(copy if args[0] == "up" else cli).argv(*args)],
        capture_output=True, text=True, timeout=300, env=env)
    assert list(mnt.iterdir()) == []  # the host saw nothing
    assert result.returncode != 98, result.stderr
    out, _, left = result.stdout.rpartition("LEFT:")
    return subprocess.CompletedProcess(result.args, result.returncode, out, result.stderr), left


def assert_fails_with(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 1; after the progress lines, one last line 'Error: ...', no traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [l for l in result.stderr.splitlines() if l.startswith("Error: ")]
    assert errors == result.stderr.splitlines()[-1:], result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])


PREPARE = [["up", "--no-init", "--nodes", "1"], ["down"]]


def test_disk_full_while_snapshotting(tmp_path):
    result, left = _on_full_disk(tmp_path, PREPARE, "snapshot", "s")
    assert_fails_with(result, "cannot write snapshot 's' in ",
                      "/clusters/.snapshots: No space left on device (check free "
                      "space and permissions of --root)")
    assert left == ".snapshots src |\n"  # no half-made copy


def test_disk_full_while_restoring(tmp_path):
    result, left = _on_full_disk(tmp_path, PREPARE + [["snapshot", "s"]],
                                 "up", "--no-init", "--from-snapshot", "s")
    assert_fails_with(result, "cannot restore snapshot 's' into ",
                      "/clusters/copy: No space left on device")
    assert left == ".snapshots src |s \n"  # no cluster 'copy', no half-made copy
