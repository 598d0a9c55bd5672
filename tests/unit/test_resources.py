"""Per-node /proc/meminfo and /proc/cpuinfo as Ganeti's fake hypervisor reads them."""

from pathlib import Path

import pytest

from vcluster_ns.ganeti import resources
from vcluster_ns.layout import ClusterPaths
from vcluster_ns.mounts import Bind, plan_node_mounts


@pytest.mark.parametrize("text, mib", [("16G", 16384), ("512M", 512), ("1.5T", 1572864),
                                       ("2048", 2048), (2048, 2048), ("4GiB", 4096),
                                       ("1024k", 1), (" 8g ", 8192)])
def test_sizes_accepted(text, mib):
    assert resources.parse_size_mib(text) == mib


@pytest.mark.parametrize("text", ["-1G", "0", "0M", 0, -5, "", "lots", "1.5", "1X", True,
                                  1.5, "1k", None])
def test_sizes_refused(text):
    with pytest.raises(ValueError):
        resources.parse_size_mib(text)


@pytest.mark.parametrize("mib, text", [(16384, "16G"), (1536, "1536M"), (1572864, "1536G"),
                                       (1048576, "1T")])
def test_format_round_trips(mib, text):
    assert resources.format_mib(mib) == text
    assert resources.parse_size_mib(text) == mib


def test_meminfo_read_as_ganeti_does():
    """GetLinuxNodeInfo: total = MemTotal, free = MemFree+Buffers+Cached,
    dom0 = Active; all in MiB (kB // 1024)."""
    text = resources.render_meminfo(4096, 256)
    assert resources.read_meminfo_mib(text) == {
        "memory_total": 4096, "memory_free": 3840, "memory_dom0": 256}
    assert "MemTotal:        4194304 kB\n" in text


def test_meminfo_refuses_reserve_above_total():
    with pytest.raises(ValueError):
        resources.render_meminfo(1024, 1024)


def test_cpuinfo_counted_as_ganeti_does():
    for cpus in (1, 3, 16):
        assert resources.count_cpus(resources.render_cpuinfo(cpus)) == cpus


def test_only_configured_files_are_rendered():
    assert resources.node_proc_files({}) == {}
    assert set(resources.node_proc_files({"cpus": 2})) == {"/proc/cpuinfo"}
    files = resources.node_proc_files({"memory": 2048, "cpus": 2})
    assert set(files) == {"/proc/meminfo", "/proc/cpuinfo"}


def test_node_proc_files_are_written_and_bound(tmp_path):
    from vcluster_ns.boot import write_node_proc_files
    from vcluster_ns.spec import ClusterSpec
    paths = ClusterPaths(tmp_path / "c")
    paths.node_root("node2").mkdir(parents=True)
    spec = ClusterSpec(nodes=2, node_settings={"node2": {"memory": 2048}})
    binds = write_node_proc_files(paths, spec, "node2")
    assert binds == [(str(tmp_path / "c/node2/proc/meminfo"), "/proc/meminfo")]
    assert resources.read_meminfo_mib(Path(binds[0][0]).read_text())["memory_total"] == 2048
    assert write_node_proc_files(paths, spec, "node1") == []
    ops = plan_node_mounts(paths, "node2", binds=binds)
    assert Bind(*binds[0]) in ops


def test_a_disk_size_makes_the_file_storage_a_sized_tmpfs(tmp_path):
    from vcluster_ns.mounts import SizedTmpfs
    paths = ClusterPaths(tmp_path / "c")
    ops = plan_node_mounts(paths, "node2", disk_mib=20480)
    assert ops[0] == SizedTmpfs("/srv/ganeti/file-storage", 20480,
                                str(tmp_path / "c/node2/file-storage"))
    assert plan_node_mounts(paths, "node2")[0] == Bind(
        str(tmp_path / "c/node2/file-storage"), "/srv/ganeti/file-storage")
