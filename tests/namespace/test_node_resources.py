"""Per-node /proc/meminfo, /proc/cpuinfo and file storage size (cluster file),
in real namespaces without Ganeti."""

from __future__ import annotations

import pytest

from helpers import Cli, unique_name

pytestmark = pytest.mark.namespace

STORAGE = "/srv/ganeti/file-storage"
FILE = """
node_count = 2
[nodes.node2]
memory = "1G"
cpus = 3
disk = "20G"
"""


def host_memtotal() -> str:
    with open("/proc/meminfo") as fh:
        return fh.readline().split()[1]


def test_a_node_sees_its_own_memory_cpus_and_disk(cli, tmp_path):
    path = tmp_path / "cluster.toml"
    path.write_text(FILE)
    cli("up", "--no-init", "-f", str(path))
    meminfo = cli("run", "node2", "head", "-1", "/proc/meminfo").stdout
    assert meminfo.split()[1] == str(1024 * 1024)
    assert cli("run", "node1", "head", "-1", "/proc/meminfo").stdout.split()[1] == \
        host_memtotal()  # the other node keeps the host's
    assert cli("run", "node2", "grep", "-c", "^processor", "/proc/cpuinfo").stdout.strip() == "3"
    size = cli("run", "node2", "stat", "-f", "-c", "%b %S", STORAGE).stdout.split()
    assert int(size[0]) * int(size[1]) == 20 << 30
    # A 10 GiB sparse disk with 1 MiB written: the tmpfs counts the 1 MiB.
    cli("run", "node2", "bash", "-c",
        f"mkdir {STORAGE}/i1 && truncate -s 10G {STORAGE}/i1/disk0 && "
        f"printf data | dd of={STORAGE}/i1/disk0 bs=1M seek=5 conv=notrunc status=none && "
        f"dd if=/dev/zero of={STORAGE}/i1/disk0 bs=1M count=1 seek=7 conv=notrunc status=none")
    used = cli("run", "node2", "stat", "-f", "-c", "%b %f %S", STORAGE).stdout.split()
    assert (int(used[0]) - int(used[1])) * int(used[2]) <= 2 << 20
    # down keeps it in the cluster directory (sparse), up brings it back.
    cli("down")
    kept = cli.dir / "node2" / "file-storage" / "i1" / "disk0"
    assert kept.stat().st_size == 10 << 30 and kept.stat().st_blocks * 512 <= 2 << 20
    cli("up", "--no-init")
    data = cli("run", "node2", "dd", f"if={STORAGE}/i1/disk0", "bs=1M", "skip=5", "count=1",
               "status=none").stdout
    assert data.startswith("data")
    status = cli("status").stdout
    assert "20G" in status and "1G" in status, status


def test_a_snapshot_keeps_the_settings_and_the_disks(cli, tmp_path):
    path = tmp_path / "cluster.toml"
    path.write_text(FILE)
    cli("up", "--no-init", "-f", str(path))
    cli("run", "node2", "bash", "-c", f"truncate -s 1G {STORAGE}/d && echo kept > {STORAGE}/d")
    cli("down")  # the supervisor saves the tmpfs into the cluster directory
    cli("snapshot", "s1")
    copy = Cli(cli.root, unique_name("copy"))
    try:
        copy("up", "--no-init", "--from-snapshot", "s1")
        assert copy("run", "node2", "cat", f"{STORAGE}/d").stdout == "kept\n"
        assert copy("run", "node2", "head", "-1", "/proc/meminfo").stdout.split()[1] == \
            str(1024 * 1024)
        assert "disk = \"20G\"" in copy("up", "--dump-config").stdout
    finally:
        copy("down", check=False)
