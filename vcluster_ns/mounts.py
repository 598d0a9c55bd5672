"""The mount table inside a cluster: described as data, applied in order.

``plan_cluster_mounts`` describes the cluster's private view of the host;
``plan_node_mounts`` what each node's own mount namespace adds on top.
``apply_ops`` performs a plan and must run inside the new mount namespace as
namespace root.  Nothing here can reach the host's mount table: the first
step makes every mount private, so no event propagates back.

The private view:

* ``/proc`` fresh, so it shows the cluster's pid namespace;
* ``/sys`` fresh, so ``/sys/class/net`` shows the cluster's own network
  devices (Ganeti checks ``/sys/class/net/<bridge>/bridge``);
* ``/etc`` an overlay whose upper layer is ``<cluster>/etc``: hosts, passwd
  and group come from there, and renaming a file over ``/etc/hosts`` works
  (Ganeti's ``SetEtcHostsEntry`` does that; a single-file bind mount would
  answer EBUSY);
* ``/proc/sysrq-trigger``, where the kernel has it, a tripwire file: a
  write records the attempt instead of rebooting the machine;
* ``/etc/ssl/certs`` an empty directory.  Debian's libcurl loads its
  default CA directory (about 140 certificates) for every TLS connection,
  even when the program names its own CA file, as Ganeti does.  Ganeti's
  RPC opens one connection per node per call, so a 50-node NODE_ADD job
  parsed some 800 certificate files a second, most of its CPU time.  A
  cluster has no route to the outside world and trusts only its own CA, so
  the public ones go;
* ``/dev/console`` a log file (noded's logging opens it for writing);
* ``/srv``, ``/root``, ``/var/lib/ganeti``, ``/var/log/ganeti``
  bound from the cluster directory, so nothing a cluster writes lands on
  the host outside it.  Such a bind would hide a cluster directory that
  lies below its target (root's default ``/root/.local/share/vcluster-ns``):
  the cluster directory is then first bound onto the same path inside the
  new source, so it stays where it was (``cover``).  ``/tmp`` is *not*
  covered: vcluster-ns itself (a checkout, a virtualenv: CI runs from
  ``/tmp``) and the files a user hands to ``run`` may live there, and a
  private ``/tmp`` would hide them.  Temporary files go to
  ``<cluster>/tmp`` through ``TMPDIR`` instead, which Ganeti and mktemp
  honour;
* ``/usr`` a read-only overlay with a Ganeti installation tree on top,
  when the cluster runs one (``--ganeti``); each node binds its own
  ``/etc/ganeti`` (the version links) in its own mount namespace;
* every directory holding a shimmed program (ssh, scp, daemon-util, the
  reboot family) a read-only overlay with the shim on top.  An overlay
  rather than a file bind mount because ``/usr/sbin/reboot`` is a symlink on
  Debian, and a bind mount would follow it and shadow ``systemctl``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from . import namespaces as ns
from .layout import FILE_STORAGE_DIR, ClusterPaths

SYSRQ_TRIGGER = "/proc/sysrq-trigger"
SYSTEM_CA_DIR = "/etc/ssl/certs"


@dataclasses.dataclass(frozen=True)
class MakePrivate:
    target: str = "/"

    def apply(self) -> None:
        ns.mount(None, self.target, None, ns.MS_REC | ns.MS_PRIVATE)

    def describe(self) -> str:
        return f"make {self.target} and everything below it private"


@dataclasses.dataclass(frozen=True)
class FreshFs:
    fstype: str
    target: str
    flags: int = ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC

    def apply(self) -> None:
        ns.mount(self.fstype, self.target, self.fstype, self.flags)

    def describe(self) -> str:
        return f"mount a fresh {self.fstype} on {self.target}"


@dataclasses.dataclass(frozen=True)
class Bind:
    source: str
    target: str
    make_target: bool = False  # create the target directory first

    def apply(self) -> None:
        if self.make_target:
            os.makedirs(self.target, exist_ok=True)
        ns.mount(self.source, self.target, None, ns.MS_BIND | ns.MS_REC)

    def describe(self) -> str:
        return f"bind {self.source} over {self.target}"


@dataclasses.dataclass(frozen=True)
class Overlay:
    target: str
    lower: tuple[str, ...]
    upper: str | None = None
    work: str | None = None

    def options(self) -> str:
        opts = "lowerdir=" + ":".join(self.lower)
        if self.upper:
            opts += f",upperdir={self.upper},workdir={self.work}"
        return opts

    def apply(self) -> None:
        if self.work:
            os.makedirs(self.work, exist_ok=True)
        ns.mount("overlay", self.target, "overlay", 0, self.options())

    def describe(self) -> str:
        kind = "writable" if self.upper else "read-only"
        return f"{kind} overlay on {self.target} ({self.options()})"


@dataclasses.dataclass(frozen=True)
class SizedTmpfs:
    """A tmpfs of ``size_mib`` on ``target``, filled with a sparse copy of
    ``fill_from`` (filestore.py says why)."""
    target: str
    size_mib: int
    fill_from: str

    def apply(self) -> None:
        ns.mount("tmpfs", self.target, "tmpfs", ns.MS_NOSUID | ns.MS_NODEV,
                 f"size={self.size_mib}m,mode=0755")
        from .filestore import sync_tree
        sync_tree(self.fill_from, self.target)

    def describe(self) -> str:
        return f"a {self.size_mib} MiB tmpfs on {self.target}, filled from {self.fill_from}"


MountOp = MakePrivate | FreshFs | Bind | Overlay | SizedTmpfs

# sysfs shows the network devices of the namespace that mounts it.
FRESH_SYSFS = FreshFs("sysfs", "/sys", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC | ns.MS_RDONLY)


def shim_overlays(shims_root: Path, targets: list[str]) -> list[Overlay]:
    """One read-only overlay per real directory that holds a shimmed program.

    ``targets`` are absolute program paths (``/usr/sbin/reboot``); the shim for
    each lives at ``shims_root`` + the program's *resolved directory* + name.
    """
    dirs = sorted({os.path.realpath(os.path.dirname(t)) for t in targets})
    return [
        Overlay(target=d, lower=(str(shims_root) + d, d))
        for d in dirs
    ]


def shim_path(shims_root: Path, target: str) -> Path:
    """Where the shim for program path ``target`` must be written."""
    real_dir = os.path.realpath(os.path.dirname(target))
    return Path(str(shims_root) + real_dir) / os.path.basename(target)


def plan_cluster_mounts(paths: ClusterPaths, shim_targets: list[str],
                        sysrq: bool | None = None,
                        usr_layers: list[str] = (),
                        hidden: list[str] = ()) -> list[MountOp]:
    """``sysrq``: does the kernel have /proc/sysrq-trigger (default: look).
    ``usr_layers``: directories laid over ``/usr``, topmost first (an
    installation tree's ``usr``: its programs appear at their own paths).
    ``hidden``: directories of the host (its Ganeti's state, say) that the
    cluster's processes see as empty ones of the cluster's own, as /root."""
    if sysrq is None:
        sysrq = os.path.exists(SYSRQ_TRIGGER)
    ops: list[MountOp] = [
        MakePrivate("/"),
        FreshFs("proc", "/proc"),
    ]
    if usr_layers:
        # Before the shims: their overlays stack on the merged /usr.
        ops.append(Overlay("/usr", lower=(*usr_layers, "/usr")))
    if sysrq:
        # A harmless tripwire: Ganeti's powercycle writes 'b' here; the write
        # lands in a file of the cluster and the service reports it.
        ops.append(Bind(str(paths.sysrq_tripwire), SYSRQ_TRIGGER))
    ops += [
        FRESH_SYSFS,
        Overlay("/etc", lower=("/etc",), upper=str(paths.etc_upper),
                work=str(paths.overlay_work / "etc")),
        Bind(str(paths.console_log), "/dev/console"),
    ]
    if os.path.isdir(SYSTEM_CA_DIR):
        ops.append(Bind(str(paths.empty_ssl_certs), SYSTEM_CA_DIR))
    ops += cover(paths, paths.srv, "/srv")
    for target in (*hidden, "/root"):
        if os.path.isdir(target):
            ops += cover(paths, paths.private_dir(target), target)
    ops += shim_overlays(paths.shims, shim_targets)
    return ops


def cover(paths: ClusterPaths, source: Path, target: str) -> list[MountOp]:
    """Bind ``source`` over ``target``, keeping the cluster directory
    visible at its own path if it lies below ``target``."""
    here = os.path.realpath(paths.dir)
    below = os.path.relpath(here, os.path.realpath(target))
    if below == "." or below.startswith(".."):
        return [Bind(str(source), target)]
    # The mount point lies inside the cluster directory itself (below
    # source); a recursive bind copies the tree before mounting, so no loop.
    return [Bind(here, os.path.join(str(source), below), make_target=True),
            Bind(str(source), target)]


def plan_node_mounts(paths: ClusterPaths, node: str, own_network: bool = False,
                     binds: list[tuple[str, str]] = (),
                     disk_mib: int | None = None) -> list[MountOp]:
    """``own_network``: the node has its own network namespace, so it gets a
    fresh ``/sys`` too (sysfs shows the devices of the namespace that mounts
    it: Ganeti looks up the node's bridge under ``/sys/class/net``).
    ``binds``: more (source, target) pairs of the node's own (its rendered
    ``/proc/meminfo`` too: a file bound over an entry of the cluster's fresh
    procfs, in this node's mount namespace only).

    ``disk_mib``: the node's file storage is a tmpfs of that size (Ganeti
    reports its statvfs), filled from the node's directory; without it the
    directory itself is bound there (the host's filesystem's size)."""
    storage = str(paths.node_root(node) / "file-storage")
    ops: list[MountOp] = [
        SizedTmpfs(FILE_STORAGE_DIR, disk_mib, storage) if disk_mib
        else Bind(storage, FILE_STORAGE_DIR),
        *(Bind(source, target) for source, target in binds),
    ]
    if own_network:
        ops.append(FRESH_SYSFS)
    return ops


def node_proc_file(paths: ClusterPaths, node: str, target: str) -> Path:
    """Where the node's own copy of ``/proc/<name>`` is kept."""
    return paths.node_root(node) / "proc" / os.path.basename(target)


def apply_ops(ops: list[MountOp]) -> None:
    for op in ops:
        try:
            op.apply()
        except OSError as exc:
            raise OSError(exc.errno, f"{op.describe()}: {exc.strerror}") from None


def read_mount_table(path: str = "/proc/self/mountinfo") -> list[str]:
    """Mount points (field 5 of mountinfo) of the calling process's namespace."""
    with open(path) as fh:
        return [line.split()[4] for line in fh]
