"""Snapshots: a down cluster's directory, copied aside and back.

A snapshot lives next to the clusters, under the same ``--root``::

    <root>/.snapshots/NAME/
      snapshot.json     what it is: source cluster and directory, time, nodes, size
      tree/             the cluster directory, minus what only a running cluster has

The copy is ``cp -a --reflink=auto``: sparse file-storage disks stay sparse
(a 1 GiB dummy disk costs a few KiB; ``shutil.copytree`` writes the whole
GiB), and on btrfs or XFS the data is shared copy-on-write.  Hard links are
not an option: Ganeti and the instances write some files in place (disk
images, job files), which would change the snapshot too.

Every copy goes to a hidden ``.NAME.partial-XXXX`` directory first and is
renamed into place only once complete, so a failure (disk full, Ctrl-C)
leaves nothing half-made.

Ganeti's configuration embeds the cluster directory (``gnt-cluster init``
records paths below the master's GANETI_ROOTDIR, e.g. the shared file
storage directory), so a snapshot restored under another name or --root has
those paths rewritten; everything vcluster-ns renders itself (shims, helper
scripts, runtime files) is rewritten by the next ``up`` anyway.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

from . import layout
from .errors import InvalidInput, OperationFailed
from .layout import ClusterPaths
from .spec import ClusterSpec, check_label

SNAPSHOTS_DIR = ".snapshots"
META_FILE = "snapshot.json"
TREE_DIR = "tree"
META_VERSION = 1
# Spec fields a restore may change: they are the host's side of a cluster
# (a port on the host, a timer), not part of Ganeti's state.
OVERRIDABLE = frozenset({"rapi_port", "watcher_interval"})
# Below each node: where Ganeti keeps files that may embed the cluster directory.
REWRITTEN_DIRS = ("var/lib/ganeti",)
COPY_PROCESSES = 4


@dataclasses.dataclass(frozen=True)
class SnapshotInfo:
    name: str
    cluster: str        # the cluster it was taken of
    source_dir: str     # that cluster's directory (paths in Ganeti's files start with it)
    created: float      # time.time()
    nodes: int
    network: str
    size: int           # bytes allocated on disk

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps({"version": META_VERSION, **self.as_dict()}, indent=2) + "\n"

    @classmethod
    def load(cls, path: Path, name: str) -> "SnapshotInfo":
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or data.pop("version", None) != META_VERSION:
                raise ValueError("not a version 1 snapshot description")
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise OperationFailed(f"corrupted snapshot {name!r}: {path}: "
                                  f"{getattr(exc, 'strerror', None) or exc}",
                                  f"delete it with 'vcluster-ns snapshot --delete {name}'") from None


# -- where ------------------------------------------------------------------

def snapshots_dir(root: Path) -> Path:
    return root / SNAPSHOTS_DIR


def snapshot_dir(root: Path, name: str) -> Path:
    """The snapshot's directory; the name is a DNS label, like cluster names."""
    return snapshots_dir(root) / check_label("snapshot name", name)


def existing_dir(root: Path, name: str) -> Path:
    where = snapshot_dir(root, name)
    if not where.is_dir():
        raise InvalidInput(f"no snapshot named {name!r} in {snapshots_dir(root)}",
                           "see 'vcluster-ns snapshot --list'")
    return where


# -- what is copied (pure) --------------------------------------------------

def runtime_entries(paths: ClusterPaths) -> tuple[frozenset[str], frozenset[str]]:
    """Top-level entries a snapshot leaves out: (skipped, kept as empty directories).

    Skipped: what exists only while the cluster runs (pid file, control
    socket, RAPI port), our own logs (``up`` recreates the files), and the
    kernel's overlayfs work directory (mode 000 inside; the mount recreates
    it).  Emptied: directories ``up`` expects to exist.
    """
    skipped = {p.name for p in (paths.pid_file, paths.control_socket, paths.rapi_port_file,
                                paths.supervisor_log, paths.console_log,
                                paths.sysrq_tripwire, paths.overlay_work)}
    emptied = {p.name for p in (paths.logs, paths.ns_dir, paths.dir / "tmp")}
    return frozenset(skipped), frozenset(emptied)


def entries_to_copy(paths: ClusterPaths, names: list[str]) -> tuple[list[str], list[str]]:
    """Split a cluster directory's entries into (copied, recreated empty)."""
    skipped, emptied = runtime_entries(paths)
    copied = sorted(n for n in names if n not in skipped and n not in emptied)
    return copied, sorted(n for n in names if n in emptied)


def restored_spec(saved: ClusterSpec, name: str, requested: ClusterSpec | None,
                  given: set[str]) -> ClusterSpec:
    """The spec of a cluster restored as ``name``: the snapshot's, with the
    host-side fields the user gave.  Any other field given with a different
    value is an error: Ganeti's state was made for the snapshot's."""
    given = set(given)
    if requested is not None:
        conflicts = requested.differences(saved, given - OVERRIDABLE)
        if conflicts:
            field = conflicts[0]
            raise InvalidInput(
                f"the snapshot's cluster has {field.replace('_', '-')} "
                f"{getattr(saved, field)!r}, not {getattr(requested, field)!r}",
                f"leave out --{field.replace('_', '-')}: a restored cluster keeps the "
                "snapshot's nodes, network, domain and instances")
    changes = {f: getattr(requested, f) for f in given & OVERRIDABLE} if requested else {}
    return dataclasses.replace(saved, name=name, **changes)


def rewrite_text(data: bytes, old: str, new: str) -> bytes:
    """Paths below the old cluster directory, moved below the new one."""
    return data.replace(os.fsencode(old.rstrip("/") + "/"), os.fsencode(new.rstrip("/") + "/"))


def human_size(size: int) -> str:
    for unit in ("B", "K", "M", "G"):
        if size < 1024 or unit == "G":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    raise AssertionError("unreachable")


# -- the disk ---------------------------------------------------------------

def _copy(source: Path, names: list[str], target: Path) -> None:
    """Copy the entries ``names`` of ``source`` into the existing directory
    ``target`` with ``cp -a --reflink=auto`` (sparse stays sparse, CoW where
    the filesystem can).  Creating thousands of small files is the cost
    (kernel time), so a few cp run at once on shares of the entries: at 30
    nodes this halves the copy on 2 cores."""
    shares = [names[i::COPY_PROCESSES] for i in range(COPY_PROCESSES)]
    copies = [subprocess.Popen(["cp", "-a", "--reflink=auto", "-t", str(target), "--",
                                *(str(source / n) for n in share)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
              for share in shares if share]
    failures = []
    try:
        for cp in copies:
            errors = cp.communicate()[1].strip().splitlines()
            if cp.returncode != 0:
                failures.append((errors or [f"cp exited {cp.returncode}"])[-1])
    finally:  # interrupted: no cp may write on while the partial copy is removed
        for cp in copies:
            if cp.poll() is None:
                cp.kill()
                cp.wait()
    if failures:
        # cp's last line ends with the reason: "...: No space left on device".
        raise OSError(0, failures[0].rsplit(": ", 1)[-1])


def _allocated(tree: Path) -> int:
    """Bytes the tree takes on disk (holes of sparse disks do not count)."""
    total = 0
    for top, dirs, files in os.walk(tree):
        for name in dirs + files:
            total += os.lstat(os.path.join(top, name)).st_blocks * 512
    return total


def _remove(path: Path) -> None:
    if path.exists() or path.is_symlink():
        layout.remove_cluster_tree(ClusterPaths(path))


def _partial(parent: Path, name: str) -> Path:
    """A hidden sibling to fill before it is renamed into place."""
    return parent / f".{name}.partial-{secrets.token_hex(4)}"


def _replace(partial: Path, final: Path) -> None:
    """Move a complete copy into place; an existing one is removed after the swap."""
    if final.exists():
        old = final.with_name(f".{final.name}.old-{secrets.token_hex(4)}")
        os.rename(final, old)
        os.rename(partial, final)
        _remove(old)
    else:
        os.rename(partial, final)


@contextlib.contextmanager
def _filling(partial: Path, failure: str):
    """Remove the half-made ``partial`` on any failure; a disk error becomes
    one line, ``failure: <reason>``."""
    try:
        yield
    except OSError as exc:
        _remove(partial)
        raise OperationFailed(f"{failure}: {exc.strerror or exc}",
                              "check free space and permissions of --root") from None
    except BaseException:
        _remove(partial)
        raise


def create(paths: ClusterPaths, spec: ClusterSpec, root: Path, name: str,
           force: bool = False) -> SnapshotInfo:
    """Copy a cluster that is down into snapshot ``name``."""
    final = snapshot_dir(root, name)
    refuse_existing(root, name, force)
    partial = _partial(final.parent, name)
    with _filling(partial, f"cannot write snapshot {name!r} in {final.parent}"):
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tree = partial / TREE_DIR
        tree.mkdir(parents=True)
        copied, emptied = entries_to_copy(paths, os.listdir(paths.dir))
        _copy(paths.dir, copied, tree)
        for entry in emptied:
            (tree / entry).mkdir()
            shutil.copymode(paths.dir / entry, tree / entry)
        shutil.copystat(paths.dir, tree)
        info = SnapshotInfo(name=name, cluster=spec.name, source_dir=str(paths.dir),
                            created=time.time(), nodes=spec.nodes, network=spec.network,
                            size=_allocated(tree))
        (partial / META_FILE).write_text(info.to_json())
        _replace(partial, final)
    return info


def refuse_up(cluster: str, is_up: bool, stop: bool) -> None:
    """A snapshot is of a cluster that is down (``stop``: it is brought down)."""
    if is_up and not stop:
        raise InvalidInput(f"cluster {cluster!r} is up",
                           "run 'vcluster-ns down' first, or pass --stop to down it, "
                           "snapshot it and bring it back up")


def refuse_target(cluster: str, exists: bool, is_up: bool, reset: bool) -> None:
    """A snapshot is restored over an existing cluster only with ``reset``,
    and only while it is down."""
    if not exists:
        return
    if is_up:
        raise InvalidInput(f"cluster {cluster!r} is up",
                           "run 'vcluster-ns down' first, then --reset replaces it")
    if not reset:
        raise InvalidInput(f"cluster {cluster!r} already exists",
                           "pass --reset to replace it with the snapshot, "
                           "or use --cluster OTHER")


def refuse_existing(root: Path, name: str, force: bool) -> None:
    if snapshot_dir(root, name).exists() and not force:
        raise InvalidInput(f"snapshot {name!r} already exists",
                           "pass --force to replace it, or choose another name")


def load(root: Path, name: str) -> tuple[SnapshotInfo, ClusterSpec]:
    """The snapshot's description and the spec of the cluster it holds."""
    where = existing_dir(root, name)
    info = SnapshotInfo.load(where / META_FILE, name)
    spec = ClusterSpec.load(where / TREE_DIR / "cluster.json")
    return info, spec


def restore(root: Path, name: str, info: SnapshotInfo, spec: ClusterSpec,
            target: ClusterPaths) -> None:
    """Copy snapshot ``name`` to ``target`` (replacing what is there) as ``spec``."""
    partial = _partial(target.dir.parent, target.dir.name)
    with _filling(partial, f"cannot restore snapshot {name!r} into {target.dir}"):
        target.dir.parent.mkdir(parents=True, exist_ok=True)
        tree = snapshot_dir(root, name) / TREE_DIR
        partial.mkdir()
        _copy(tree, os.listdir(tree), partial)
        shutil.copystat(tree, partial)
        if info.source_dir != str(target.dir):
            rewrite_paths(ClusterPaths(partial), spec.node_names, info.source_dir,
                          str(target.dir))
        spec.save(ClusterPaths(partial).spec_file)
        _replace(partial, target.dir)


def rewrite_paths(paths: ClusterPaths, nodes: list[str], old: str, new: str) -> int:
    """Rewrite the old cluster directory to the new one in Ganeti's files
    (config.data, ssconf_*, job files); returns how many files changed.
    A file is replaced by rename, as Ganeti writes them."""
    changed = 0
    dirs = [paths.node_root(n) / d for n in nodes for d in REWRITTEN_DIRS]
    for top, _, files in (w for d in dirs for w in os.walk(d)):
        for name in files:
            path = Path(top) / name
            if path.is_symlink():
                continue
            data = path.read_bytes()
            new_data = rewrite_text(data, old, new)
            if new_data != data:
                tmp = path.with_name(f".{name}.rewrite")
                tmp.write_bytes(new_data)
                shutil.copystat(path, tmp)
                os.replace(tmp, path)
                changed += 1
    return changed


def list_snapshots(root: Path) -> list[tuple[str, SnapshotInfo | None]]:
    """(name, description) of every snapshot under ``root``, by name; the
    description is None for a corrupted one.  Half-made copies are hidden."""
    where = snapshots_dir(root)
    if not where.is_dir():
        return []
    found = []
    for name in sorted(n for n in os.listdir(where) if not n.startswith(".")):
        try:
            found.append((name, SnapshotInfo.load(where / name / META_FILE, name)))
        except OperationFailed:
            found.append((name, None))
    return found


def delete(root: Path, name: str) -> None:
    where = existing_dir(root, name)
    # Renamed first: a delete interrupted halfway leaves a hidden leftover,
    # never a snapshot that looks whole but is not.
    doomed = _partial(where.parent, name)
    try:
        os.rename(where, doomed)
        _remove(doomed)
    except OSError as exc:
        raise OperationFailed(f"cannot delete snapshot {name!r}: {exc.strerror or exc}",
                              f"check the permissions of {where.parent}") from None
