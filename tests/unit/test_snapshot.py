"""snapshot.py on plain directories (no namespaces): what is copied, path
rewriting, spec rules, and that every failure leaves nothing half-made."""

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import vcluster_ns
from vcluster_ns import snapshot as snapshots
from vcluster_ns.cli import main
from vcluster_ns.errors import InvalidInput, OperationFailed
from vcluster_ns.layout import ClusterPaths, create_cluster_tree
from vcluster_ns.spec import ClusterSpec

OSDEFS = Path(vcluster_ns.__file__).parent / "osdefs"


def make_cluster(root: Path, name: str = "src", nodes: int = 2) -> tuple[ClusterPaths, ClusterSpec]:
    """A cluster tree as 'up' leaves it after 'down', with Ganeti-like files."""
    spec = ClusterSpec(name=name, nodes=nodes)
    paths = ClusterPaths(root / name)
    create_cluster_tree(paths, spec, users=["gnt-confd"], groups=["gnt-admin"],
                        node_defaults={n: {"NODED_ARGS": ""} for n in spec.node_names},
                        os_definitions=OSDEFS)
    lib = paths.node_root("node1") / "var/lib/ganeti"
    (lib / "config.data").write_text(json.dumps(
        {"shared_file_storage_dir": f"{paths.dir}/node1/srv/ganeti/shared-file-storage",
         "file_storage_dir": "/srv/ganeti/file-storage"}))
    (lib / "ssconf_gluster_storage_dir").write_text(f"{paths.dir}/node1/var/run/ganeti/gluster\n")
    (lib / "server.pem").write_text("certificate\n")
    (lib / "server.pem").chmod(0o400)
    disk = paths.node_root("node2") / "file-storage/inst1/disk0"
    disk.parent.mkdir(parents=True)
    with open(disk, "wb") as fh:  # a sparse 1 GiB disk with a marker at its start
        fh.write(b"marker")
        fh.truncate(1 << 30)
    for runtime in (paths.pid_file, paths.control_socket, paths.rapi_port_file):
        runtime.write_text("1\n")
    paths.supervisor_log.write_text("old log\n")
    (paths.logs / "node1" / "ganeti-noded.log").write_text("old daemon log\n")
    (paths.ns_dir / "node1.pid").write_text("7\n")
    (paths.overlay_work / "etc" / "work").mkdir(parents=True)
    (paths.overlay_work / "etc" / "work").chmod(0)  # as the kernel leaves it
    return paths, spec


@pytest.fixture
def source(tmp_path):
    yield make_cluster(tmp_path / "root")
    (tmp_path / "root/src/.overlay-work/etc/work").chmod(0o700)


def hidden(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# -- pure rules -------------------------------------------------------------

def test_entries_to_copy_leave_out_runtime_state():
    paths = ClusterPaths(Path("/r/c"))
    names = ["cluster.json", "etc", "node1", "supervisor.pid", "control.sock", "rapi.port",
             "supervisor.log", "console.log", "sysrq-trigger", ".overlay-work", "logs", "ns",
             "tmp", "srv", "private", "shims", "cmd", "rapi-password"]
    copied, emptied = snapshots.entries_to_copy(paths, names)
    assert copied == sorted(["cluster.json", "etc", "node1", "srv", "private", "shims", "cmd",
                             "rapi-password"])
    assert emptied == ["logs", "ns", "tmp"]


def test_restored_spec_takes_the_snapshots_fields_and_the_new_name():
    saved = ClusterSpec(name="old", nodes=5, network="198.18.0.0/16", domain="x.test")
    requested = ClusterSpec(name="new")  # defaults: not given, so not compared
    assert snapshots.restored_spec(saved, "new", requested, set()) == \
        ClusterSpec(name="new", nodes=5, network="198.18.0.0/16", domain="x.test")
    assert snapshots.restored_spec(saved, "new", None, set()).nodes == 5


def test_restored_spec_accepts_equal_values_and_host_side_overrides():
    saved = ClusterSpec(name="old", nodes=5, rapi_port=5080)
    requested = ClusterSpec(name="new", nodes=5, rapi_port=0, watcher_interval=0)
    spec = snapshots.restored_spec(saved, "new", requested,
                                   {"nodes", "rapi_port", "watcher_interval"})
    assert (spec.nodes, spec.rapi_port, spec.watcher_interval) == (5, 0, 0)


@pytest.mark.parametrize("field,value,shown", [
    ("nodes", 4, "nodes 3, not 4"),
    ("network", "198.18.0.0/16", "network '192.0.2.0/24', not '198.18.0.0/16'"),
    ("domain", "x.test", "domain '', not 'x.test'"),
    ("instances", 5, "instances 20, not 5"),
])
def test_restored_spec_refuses_other_fields(field, value, shown):
    saved = ClusterSpec(name="old")
    with pytest.raises(InvalidInput) as err:
        snapshots.restored_spec(saved, "new", ClusterSpec(name="new", **{field: value}),
                                {field})
    assert err.value.message == f"the snapshot's cluster has {shown}"
    assert f"leave out --{field}" in err.value.hint


def test_rewrite_text_moves_whole_directory_prefixes_only():
    data = b'"/r/c1/node1/x" "/r/c10/node1/x" "/r/c1" "/srv/ganeti"'
    assert snapshots.rewrite_text(data, "/r/c1", "/other/root/copy") == \
        b'"/other/root/copy/node1/x" "/r/c10/node1/x" "/r/c1" "/srv/ganeti"'


@pytest.mark.parametrize("size,text", [(0, "0B"), (1023, "1023B"), (2048, "2.0K"),
                                       (5 << 20, "5.0M"), (3 << 40, "3072.0G")])
def test_human_size(size, text):
    assert snapshots.human_size(size) == text


@pytest.mark.parametrize("name", ["Bad", "a/b", "..", "", "-x", "a" * 64])
def test_snapshot_names_are_labels(tmp_path, name):
    with pytest.raises(InvalidInput, match="invalid snapshot name"):
        snapshots.snapshot_dir(tmp_path, name)


# -- create / restore on disk ---------------------------------------------

def test_snapshot_copies_state_and_leaves_out_runtime(source, tmp_path):
    paths, spec = source
    info = snapshots.create(paths, spec, paths.dir.parent, "s1")
    tree = paths.dir.parent / ".snapshots/s1/tree"
    assert (tree / "cluster.json").read_text() == paths.spec_file.read_text()
    assert (tree / "node1/var/lib/ganeti/config.data").is_file()
    assert oct((tree / "node1/var/lib/ganeti/server.pem").stat().st_mode & 0o777) == "0o400"
    disk = tree / "node2/file-storage/inst1/disk0"
    assert disk.stat().st_size == 1 << 30
    assert disk.stat().st_blocks * 512 < 1 << 20, "the sparse disk was written out"
    assert disk.read_bytes()[:6] == b"marker"
    for gone in ("supervisor.pid", "control.sock", "rapi.port", "supervisor.log",
                 ".overlay-work"):
        assert not (tree / gone).exists(), gone
    for empty in ("logs", "ns", "tmp"):
        assert list((tree / empty).iterdir()) == [], empty
    assert (tree / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert (info.name, info.cluster, info.source_dir, info.nodes) == ("s1", "src",
                                                                       str(paths.dir), 2)
    assert 0 < info.size < 1 << 20
    assert hidden(paths.dir.parent / ".snapshots") == []


def test_restore_under_another_name_rewrites_ganetis_paths(source, tmp_path):
    paths, spec = source
    snapshots.create(paths, spec, paths.dir.parent, "s1")
    info, saved = snapshots.load(paths.dir.parent, "s1")
    target = ClusterPaths(paths.dir.parent / "copy")
    new_spec = snapshots.restored_spec(saved, "copy", None, set())
    snapshots.restore(paths.dir.parent, "s1", info, new_spec, target)
    config = json.loads((target.dir / "node1/var/lib/ganeti/config.data").read_text())
    assert config == {"shared_file_storage_dir":
                      f"{target.dir}/node1/srv/ganeti/shared-file-storage",
                      "file_storage_dir": "/srv/ganeti/file-storage"}
    assert (target.dir / "node1/var/lib/ganeti/ssconf_gluster_storage_dir").read_text() == \
        f"{target.dir}/node1/var/run/ganeti/gluster\n"
    assert oct((target.dir / "node1/var/lib/ganeti/server.pem").stat().st_mode & 0o777) == "0o400"
    assert ClusterSpec.load(target.spec_file) == ClusterSpec(name="copy", nodes=2)
    assert (target.dir / "node2/file-storage/inst1/disk0").stat().st_blocks * 512 < 1 << 20
    assert hidden(paths.dir.parent) == [".snapshots"]


def test_rewrite_paths_leaves_other_files_and_symlinks(tmp_path):
    paths = ClusterPaths(tmp_path / "c")
    lib = paths.node_root("node1") / "var/lib/ganeti"
    lib.mkdir(parents=True)
    (lib / "queue").mkdir()
    (lib / "queue/job-1").write_text('{"livelock": "/old/c/node1/var/run/x"}')
    (lib / "link").symlink_to("/old/c/node1/target")
    outside = paths.node_root("node1") / "var/log/ganeti"
    outside.mkdir(parents=True)
    (outside / "node-daemon.log").write_text("/old/c/node1/x\n")
    assert snapshots.rewrite_paths(paths, ["node1"], "/old/c", "/new/d") == 1
    assert (lib / "queue/job-1").read_text() == '{"livelock": "/new/d/node1/var/run/x"}'
    assert os.readlink(lib / "link") == "/old/c/node1/target"
    assert (outside / "node-daemon.log").read_text() == "/old/c/node1/x\n"


def test_existing_snapshot_needs_force(source):
    paths, spec = source
    root = paths.dir.parent
    first = snapshots.create(paths, spec, root, "s1")
    with pytest.raises(InvalidInput, match="snapshot 's1' already exists"):
        snapshots.create(paths, spec, root, "s1")
    (paths.dir / "etc/new-file").write_text("x\n")
    second = snapshots.create(paths, spec, root, "s1", force=True)
    assert second.created >= first.created
    assert (root / ".snapshots/s1/tree/etc/new-file").exists()
    assert hidden(root / ".snapshots") == []


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk-full", "interrupted"])
def test_failed_snapshot_leaves_nothing(source, monkeypatch, error):
    paths, spec = source
    root = paths.dir.parent

    def failing_copy(*args, **kwargs):
        raise error
    monkeypatch.setattr(snapshots, "_copy", failing_copy)
    with pytest.raises(OperationFailed if isinstance(error, OSError) else KeyboardInterrupt) as err:
        snapshots.create(paths, spec, root, "s1")
    if isinstance(error, OSError):
        assert err.value.one_line() == (
            f"cannot write snapshot 's1' in {root}/.snapshots: No space left on device "
            "(check free space and permissions of --root)")
    assert list((root / ".snapshots").iterdir()) == []


def test_failed_restore_leaves_the_target_as_it_was(source, monkeypatch):
    paths, spec = source
    root = paths.dir.parent
    snapshots.create(paths, spec, root, "s1")
    info, saved = snapshots.load(root, "s1")

    def disk_full(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(snapshots, "rewrite_paths", disk_full)  # after the copy
    with pytest.raises(OperationFailed, match="cannot restore snapshot 's1' into .*: No space"):
        snapshots.restore(root, "s1", info, snapshots.restored_spec(saved, "copy", None, set()),
                          ClusterPaths(root / "copy"))
    assert sorted(p.name for p in root.iterdir()) == [".snapshots", "src"]


def test_list_and_delete(source):
    paths, spec = source
    root = paths.dir.parent
    assert snapshots.list_snapshots(root) == []
    snapshots.create(paths, spec, root, "b")
    snapshots.create(paths, spec, root, "a")
    (root / ".snapshots/.c.partial-1234").mkdir()  # an interrupted copy: hidden
    (root / ".snapshots/bad/tree").mkdir(parents=True)
    (root / ".snapshots/bad/snapshot.json").write_text("{broken")
    found = snapshots.list_snapshots(root)
    assert [(n, i.cluster if i else None) for n, i in found] == [
        ("a", "src"), ("b", "src"), ("bad", None)]
    snapshots.delete(root, "a")
    snapshots.delete(root, "bad")
    assert [n for n, _ in snapshots.list_snapshots(root)] == ["b"]
    with pytest.raises(InvalidInput, match="no snapshot named 'a'"):
        snapshots.delete(root, "a")


def test_corrupted_snapshot_description(source):
    paths, spec = source
    root = paths.dir.parent
    snapshots.create(paths, spec, root, "s1")
    (root / ".snapshots/s1/snapshot.json").write_text('{"version": 9}')
    with pytest.raises(OperationFailed) as err:
        snapshots.load(root, "s1")
    assert err.value.message.startswith("corrupted snapshot 's1': ")
    assert err.value.hint == "delete it with 'vcluster-ns snapshot --delete s1'"


# -- the CLI ------------------------------------------------------------------

@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.delenv("VCLUSTER_NS_ROOT", raising=False)
    monkeypatch.delenv("VCLUSTER_NS_CLUSTER", raising=False)
    return lambda *args: CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("args,words", [
    (["snapshot"], ["NAME", "--list", "--delete", "--force", "--stop", ".snapshots",
                    "--from-snapshot", "--reset"]),
    (["up"], ["--from-snapshot", "--reset"]),
])
def test_help_teaches_snapshots(invoke, args, words):
    result = invoke(*args, "--help")
    assert result.exit_code == 0
    for word in words:
        assert word in result.output, word


@pytest.mark.parametrize("args,fragment", [
    (["snapshot"], "Missing argument 'NAME'"),
    (["snapshot", "--list", "x"], "--list takes no NAME"),
    (["up", "--reset"], "--reset needs --from-snapshot NAME"),
    (["snapshot", "--delete", "x", "--force"], "--force and --stop are for taking a snapshot"),
    (["snapshot", "--list", "--stop"], "--force and --stop are for taking a snapshot"),
    (["snapshot", "x", "--json"], "--json goes with --list"),
])
def test_snapshot_usage_errors(invoke, tmp_path, args, fragment):
    result = invoke("--root", str(tmp_path / "r"), *args)
    assert result.exit_code == 2
    assert fragment in result.output
    assert not (tmp_path / "r").exists()


def test_list_without_snapshots(invoke, tmp_path):
    result = invoke("--root", str(tmp_path), "snapshot", "--list")
    assert result.exit_code == 0
    assert result.output == f"no snapshots in {tmp_path}\n"
    assert json.loads(invoke("--root", str(tmp_path), "snapshot", "--list", "--json").output) == []
