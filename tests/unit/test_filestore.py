"""Sparse tree copies: holes stay holes, data and removals come across."""

import os

from vcluster_ns.filestore import sync_tree


def allocated(path) -> int:
    return os.stat(path).st_blocks * 512


def test_sync_keeps_holes_and_data(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "inst1").mkdir(parents=True)
    disk = src / "inst1" / "disk0"
    with open(disk, "wb") as fh:
        fh.truncate(1 << 30)
        fh.seek(1 << 20)
        fh.write(b"x" * 4096)
    (dst / "gone").mkdir(parents=True)
    (dst / "stale").write_text("old")
    sync_tree(str(src), str(dst))
    copy = dst / "inst1" / "disk0"
    assert copy.stat().st_size == 1 << 30
    assert allocated(copy) < 1 << 20  # a hole, not a gigabyte
    with open(copy, "rb") as fh:
        fh.seek(1 << 20)
        assert fh.read(4096) == b"x" * 4096
        fh.seek(0)
        assert fh.read(16) == bytes(16)
    assert sorted(os.listdir(dst)) == ["inst1"]


def test_sync_of_an_empty_tree(tmp_path):
    (tmp_path / "src").mkdir()
    sync_tree(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert os.listdir(tmp_path / "dst") == []
