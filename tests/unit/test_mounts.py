"""mounts.py: shim placement through symlinks and the cluster's mount plan."""

import os
from pathlib import Path

import pytest

from vcluster_ns import mounts
from vcluster_ns import namespaces as ns
from vcluster_ns.layout import ClusterPaths
from vcluster_ns.mounts import (Bind, FreshFs, MakePrivate, Overlay, plan_cluster_mounts,
                                plan_node_mounts, shim_overlays, shim_path)


def symlinked_dirs(tmp_path):
    real = tmp_path / "usr" / "sbin"
    real.mkdir(parents=True)
    (tmp_path / "sbin").symlink_to(real)          # /sbin -> /usr/sbin style
    other = tmp_path / "usr" / "bin"
    other.mkdir()
    return os.path.realpath(real), os.path.realpath(other)


def test_shim_path_resolves_symlinked_directory(tmp_path):
    real, _ = symlinked_dirs(tmp_path)
    shims = Path("/c/shims")
    via_link = shim_path(shims, str(tmp_path / "sbin" / "reboot"))
    direct = shim_path(shims, str(tmp_path / "usr" / "sbin" / "reboot"))
    assert via_link == direct == Path("/c/shims" + real) / "reboot"


def test_shim_path_does_not_resolve_the_program_itself(tmp_path):
    real, other = symlinked_dirs(tmp_path)
    (tmp_path / "usr" / "sbin" / "reboot").symlink_to("/bin/systemctl")
    assert shim_path(Path("/s"), str(tmp_path / "sbin" / "reboot")) == \
        Path("/s" + real) / "reboot"


def test_shim_overlays_one_per_real_directory(tmp_path):
    real, other = symlinked_dirs(tmp_path)
    shims = Path("/c/shims")
    overlays = shim_overlays(shims, [
        str(tmp_path / "sbin" / "reboot"),
        str(tmp_path / "usr" / "sbin" / "halt"),
        str(tmp_path / "usr" / "bin" / "ssh"),
        str(tmp_path / "usr" / "bin" / "scp"),
    ])
    assert overlays == sorted([
        Overlay(target=real, lower=("/c/shims" + real, real)),
        Overlay(target=other, lower=("/c/shims" + other, other)),
    ], key=lambda o: o.target)
    for overlay in overlays:
        assert overlay.upper is None and overlay.work is None
        assert overlay.options() == f"lowerdir=/c/shims{overlay.target}:{overlay.target}"
        assert overlay.describe().startswith("read-only overlay on")


def test_shim_overlays_empty():
    assert shim_overlays(Path("/s"), []) == []


def test_overlay_options():
    ro = Overlay("/usr/bin", lower=("/shims/usr/bin", "/usr/bin"))
    assert ro.options() == "lowerdir=/shims/usr/bin:/usr/bin"
    rw = Overlay("/etc", lower=("/etc",), upper="/c/etc", work="/c/.overlay-work/etc")
    assert rw.options() == "lowerdir=/etc,upperdir=/c/etc,workdir=/c/.overlay-work/etc"
    assert rw.describe().startswith("writable overlay on /etc")


def test_plan_cluster_mounts_order():
    paths = ClusterPaths(Path("/r/c1"))
    ops = plan_cluster_mounts(paths, ["/usr/sbin/reboot", "/usr/bin/ssh"])
    assert ops[0] == MakePrivate("/")
    assert ops[1] == FreshFs("proc", "/proc")
    assert ops[2].fstype == "sysfs" and ops[2].target == "/sys"
    assert ops[2].flags & ns.MS_RDONLY
    assert ops[3] == Overlay("/etc", lower=("/etc",), upper="/r/c1/etc",
                             work="/r/c1/.overlay-work/etc")
    assert Bind("/r/c1/console.log", "/dev/console") in ops
    assert Bind("/r/c1/srv", "/srv") in ops
    # only MakePrivate comes first: nothing may be mounted before it
    assert [type(op) for op in ops].count(MakePrivate) == 1
    # the shim overlays come last, one per resolved directory
    shim_dirs = sorted({os.path.realpath("/usr/sbin"), os.path.realpath("/usr/bin")})
    tail = ops[-len(shim_dirs):]
    assert [op.target for op in tail] == shim_dirs
    assert all(isinstance(op, Overlay) and op.upper is None for op in tail)
    assert all(op.lower[0] == "/r/c1/shims" + op.target for op in tail)


def test_plan_cluster_mounts_binds_private_dirs_that_exist():
    ops = plan_cluster_mounts(ClusterPaths(Path("/r/c1")), [],
                              hidden=["/var/lib/ganeti", "/var/log/ganeti"])
    binds = {op.target: op.source for op in ops if isinstance(op, Bind)}
    for sub, target in (("root", "/root"), ("var-lib-ganeti", "/var/lib/ganeti"),
                        ("var-log-ganeti", "/var/log/ganeti")):
        if os.path.isdir(target):
            assert binds[target] == f"/r/c1/private/{sub}"
        else:
            assert target not in binds
    # every writable place lies inside the cluster directory
    for op in ops:
        if isinstance(op, Bind):
            assert op.source.startswith("/r/c1/")
    # /tmp stays the host's (vcluster-ns itself may run from there): TMPDIR
    # points into the cluster instead
    assert "/tmp" not in binds


@pytest.mark.parametrize("root", ["/root/.local/share/vcluster-ns", "/tmp/pytest-of-u/t0"])
def test_a_private_dir_over_the_cluster_directory_keeps_it_visible(root):
    """Root's default root lies below /root, a test's below /tmp: binding the
    private /root or /tmp over it would hide the cluster (issue 14, item 3)."""
    from vcluster_ns.mounts import cover
    paths = ClusterPaths(Path(root) / "c1")
    target = "/" + root.split("/")[1]
    source = paths.private / "root" if target == "/root" else paths.tmp
    ops = cover(paths, source, target)
    rel = os.path.relpath(str(paths.dir), target)
    assert ops == [Bind(str(paths.dir), f"{source}/{rel}", make_target=True),
                   Bind(str(source), target)]
    # the rebind comes first, so the cluster directory is reachable at its
    # own path once the private directory covers the target
    if target == "/root" and os.path.isdir("/root"):
        plan = plan_cluster_mounts(paths, [])
        binds = [op for op in plan if isinstance(op, Bind)]
        assert binds.index(ops[0]) == binds.index(ops[1]) - 1
    assert cover(ClusterPaths(Path("/srv2/c1")), paths.srv, "/srv") == [
        Bind(str(paths.srv), "/srv")]  # /srv2 is not below /srv


def test_plan_node_mounts():
    assert plan_node_mounts(ClusterPaths(Path("/r/c1")), "node2") == [
        Bind("/r/c1/node2/file-storage", "/srv/ganeti/file-storage")]


def test_describe_texts():
    assert "private" in MakePrivate("/").describe()
    assert FreshFs("proc", "/proc").describe() == "mount a fresh proc on /proc"
    assert Bind("/a", "/b").describe() == "bind /a over /b"


def test_read_mount_table(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 0:21 / /proc rw,nosuid shared:5 - proc proc rw\n"
        "23 1 0:22 / /sys rw,nosuid shared:6 - sysfs sysfs rw\n")
    assert mounts.read_mount_table(str(info)) == ["/proc", "/sys"]


def test_sysrq_tripwire_only_where_the_kernel_has_it(tmp_path):
    from vcluster_ns.layout import ClusterPaths
    from vcluster_ns.mounts import Bind, plan_cluster_mounts

    paths = ClusterPaths(tmp_path / "c")
    with_sysrq = plan_cluster_mounts(paths, [], sysrq=True)
    tripwire = Bind(str(paths.sysrq_tripwire), "/proc/sysrq-trigger")
    assert tripwire in with_sysrq
    # After the fresh /proc it covers, before anything else.
    assert with_sysrq.index(tripwire) == 2
    assert tripwire not in plan_cluster_mounts(paths, [], sysrq=False)


def test_the_system_ca_directory_is_hidden_inside(monkeypatch):
    """libcurl would parse every public CA for each of Ganeti's RPC connections."""
    paths = ClusterPaths(Path("/r/c1"))
    real_isdir = os.path.isdir
    monkeypatch.setattr(os.path, "isdir", lambda p: p == mounts.SYSTEM_CA_DIR or real_isdir(p))
    assert Bind("/r/c1/private/ssl-certs", "/etc/ssl/certs") in plan_cluster_mounts(paths, [])
    monkeypatch.setattr(os.path, "isdir",
                        lambda p: p != mounts.SYSTEM_CA_DIR and real_isdir(p))
    assert not [op for op in plan_cluster_mounts(paths, [])
                if getattr(op, "target", "") == "/etc/ssl/certs"]
