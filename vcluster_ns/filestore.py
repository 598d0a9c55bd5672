"""Sparse copies of a directory tree: a node's file storage in and out of its tmpfs.

A node with a disk size keeps its file storage in a tmpfs of that size in
its own mount namespace (the only size-limited filesystem a user namespace
can mount; ``statvfs`` then reports the size to Ganeti).  tmpfs stores only
the pages written: the holes of Ganeti's sparse disk files cost nothing.
The tmpfs dies with the node's namespace, so the tree is copied in from the
cluster directory when the node starts and back when the cluster goes down,
holes kept as holes both ways.
"""

from __future__ import annotations

import os
import shutil
import stat

CHUNK = 1 << 20


def copy_sparse_file(source: str, target: str) -> None:
    """Copy only the data extents of ``source`` (SEEK_DATA/SEEK_HOLE); the
    rest of ``target`` stays a hole."""
    fd_in = os.open(source, os.O_RDONLY)
    try:
        size = os.fstat(fd_in).st_size
        fd_out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            offset = 0
            while offset < size:
                try:
                    start = os.lseek(fd_in, offset, os.SEEK_DATA)
                except OSError:  # ENXIO: no data after offset
                    break
                end = os.lseek(fd_in, start, os.SEEK_HOLE)
                os.lseek(fd_in, start, os.SEEK_SET)
                os.lseek(fd_out, start, os.SEEK_SET)
                remaining = end - start
                while remaining > 0:
                    data = os.read(fd_in, min(CHUNK, remaining))
                    if not data:
                        break
                    os.write(fd_out, data)
                    remaining -= len(data)
                offset = end
            os.ftruncate(fd_out, size)
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)


def sync_tree(source: str, target: str) -> None:
    """Make ``target`` a sparse copy of ``source``: files and directories
    with their modes and times; what ``source`` lacks is removed."""
    os.makedirs(target, exist_ok=True)
    wanted = set(os.listdir(source))
    for name in os.listdir(target):
        if name not in wanted:
            path = os.path.join(target, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    for name in wanted:
        src, dst = os.path.join(source, name), os.path.join(target, name)
        st = os.lstat(src)
        if stat.S_ISDIR(st.st_mode):
            if os.path.lexists(dst) and not os.path.isdir(dst):
                os.unlink(dst)
            sync_tree(src, dst)
        elif stat.S_ISREG(st.st_mode):
            if os.path.isdir(dst) and not os.path.islink(dst):
                shutil.rmtree(dst)
            copy_sparse_file(src, dst)
        elif stat.S_ISLNK(st.st_mode):
            if os.path.lexists(dst):
                os.unlink(dst)
            os.symlink(os.readlink(src), dst)
        else:
            continue  # sockets, fifos: nothing of Ganeti's file storage
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(dst, stat.S_IMODE(st.st_mode))
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    st = os.stat(source)
    os.chmod(target, stat.S_IMODE(st.st_mode))
