"""Ganeti installation trees for tests, made from the installed packages.

CI cannot build Ganeti, so a test tree is a real copy of the system's
installation laid out as ``make install DESTDIR=TREE`` would lay it out
(``usr/lib/ganeti/VERSION``, ``usr/share/ganeti/VERSION``, the public links
in ``usr/sbin``, ``usr/bin`` and ``usr/lib/ganeti``), with two optional
changes a test can observe:

* ``marker``: ``ganeti-noded`` prints ``vcluster-ns test tree: MARKER`` at
  start, which lands in the node's noded log: proof that the cluster runs
  the tree and not ``/usr``;
* ``dir_version``: the versioned directories get another name and the
  Python constants say so (``DIR_VERSION``, ``RELEASE_VERSION``,
  ``VERSIONEDSHAREDIR``), as a second release would.  The Haskell daemons
  are the same binaries: only the Python side knows the new version.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from vcluster_ns.ganeti import install

MARKER_PREFIX = "vcluster-ns test tree: "


def make_tree(dest: Path, marker: str | None = None, dir_version: str | None = None,
              release: str | None = None) -> Path:
    system = install.system()
    new_dir = dir_version or system.dir_version
    lib = dest / "usr/lib/ganeti"
    share = dest / "usr/share/ganeti"
    lib.mkdir(parents=True)
    share.mkdir(parents=True)
    # cp -a: real files (the test user may not hard-link root's), fast.
    subprocess.run(["cp", "-a", str(system.lib_dir), str(lib / new_dir)], check=True)
    subprocess.run(["cp", "-a", str(system.share_dir), str(share / new_dir)], check=True)
    _copy_public_links(dest)
    if dir_version:
        _rename_version(share / new_dir / "ganeti" / "_constants.py", system, new_dir,
                        release or f"{new_dir}.0")
    if marker:
        noded = share / new_dir / "ganeti-noded"
        text = noded.read_text()
        text = text.replace('if __name__ == "__main__":\n',
                            'if __name__ == "__main__":\n'
                            f'  print({MARKER_PREFIX + marker!r}, flush=True)\n', 1)
        noded.write_text(text)
    return dest


def _copy_public_links(dest: Path) -> None:
    """The links a DESTDIR install makes: usr/sbin/gnt-*, usr/bin/h*, and
    usr/lib/ganeti/* and usr/share/ganeti/default, all leading through
    ``default`` to /etc/ganeti/{lib,share}."""
    for directory in ("/usr/sbin", "/usr/bin", install.PKGLIBDIR,
                      install.PKGLIBDIR + "/iallocators", install.SHAREDIR):
        target_dir = dest / directory.lstrip("/")
        target_dir.mkdir(parents=True, exist_ok=True)
        for entry in os.scandir(directory):
            if not entry.is_symlink():
                continue
            link = os.readlink(entry.path)
            if "ganeti" not in link:
                continue
            (target_dir / entry.name).symlink_to(link)


def _rename_version(constants: Path, system: install.Installation, new_dir: str,
                    release: str) -> None:
    major, minor = (int(p) for p in new_dir.split(".")[:2])
    revision = int(release.split(".")[2]) if release.count(".") >= 2 else 0
    text = constants.read_text()
    replacements = {
        "DIR_VERSION": f'"{new_dir}"',
        "RELEASE_VERSION": f'"{release}"',
        "VERSIONEDSHAREDIR": f'"{install.SHAREDIR}/{new_dir}"',
        "VERSION_MAJOR": str(major),
        "VERSION_MINOR": str(minor),
        "VERSION_REVISION": str(revision),
    }
    for name, value in replacements.items():
        text, count = re.subn(rf"^{name} = .*$", f"{name} = {value}", text, flags=re.M)
        assert count == 1, f"{name} not found once in {constants}"
    constants.write_text(text)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
