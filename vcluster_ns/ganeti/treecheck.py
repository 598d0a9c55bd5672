"""``doctor --ganeti PATH``: is this installation tree ready to run a cluster?

Each check says what it found and, when something is wrong, what is
missing and how to get it.  The checks run the tree's own programs only to
ask (``python3 -c 'import ganeti...'``, ``ldd``): nothing is started.

* layout: a version under both ``usr/lib/ganeti`` and ``usr/share/ganeti``,
  read from the tree's ``_constants.py``;
* programs: the daemons and scripts a cluster runs;
* python: the tree's package importable, with its dependencies, by the
  interpreter its scripts name in their ``#!`` line;
* libraries: every shared library of the Haskell daemons resolved (``ldd``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..errors import VclusterError
from . import install
from .install import HASKELL_DAEMONS, Installation

OK, WARN, FAIL = "ok", "warn", "fail"
# What the tree's Python must import for the daemons and gnt-* scripts.
PYTHON_PROBE = "import ganeti.cli, ganeti.server.noded, ganeti.rapi.client; " \
               "print(ganeti.__file__)"


def check_tree(path: str, check_cls) -> list:
    """``check_cls(name, status, detail, fix)`` builds each result (doctor's Check)."""
    try:
        inst = install.from_tree(path)
    except VclusterError as exc:
        layout = _layout_only(path)
        if layout is None:
            return [check_cls("ganeti tree", FAIL, exc.message, exc.hint or "")]
        inst = layout
        results = [check_cls("ganeti tree", FAIL, exc.message, exc.hint or "")]
    else:
        results = [check_cls("ganeti tree", OK,
                             f"Ganeti {inst.version} in {inst.root} "
                             f"(usr/lib/ganeti/{inst.dir_version}, "
                             f"usr/share/ganeti/{inst.dir_version})")]
    results.append(_programs(inst, check_cls))
    results.append(_python(inst, check_cls))
    results.append(_libraries(inst, check_cls))
    return results


def _layout_only(path: str) -> Installation | None:
    """The tree's version even when from_tree refused it for missing files."""
    root = os.path.abspath(os.path.expanduser(path))
    found = install.complete_versions(Path(root))
    if len(found) != 1:
        return None
    dir_version, release = next(iter(found.items()))
    return Installation(Path(root), release, dir_version)


def _programs(inst: Installation, check_cls):
    missing = [os.path.relpath(m, inst.root) for m in inst.missing()]
    missing += [link.lstrip("/") + " (a link, neither in the tree nor on the host)"
                for link in install.missing_links(inst)]
    optional = [d for d in ("ganeti-mond", "ganeti-metad") if not inst.has_daemon(d)]
    if missing:
        return check_cls("ganeti programs", FAIL, "missing: " + ", ".join(missing),
                         "finish 'make install DESTDIR=...' of the build")
    if optional:
        return check_cls("ganeti programs", WARN,
                         "not built: " + ", ".join(optional) + " (not started)",
                         "configure with --enable-monitoring / --enable-metadata to have them")
    return check_cls("ganeti programs", OK, "daemons, gnt-* scripts, daemon-util, ensure-dirs")


def _python(inst: Installation, check_cls):
    interpreter = inst.interpreter()
    if interpreter is None:
        return check_cls("ganeti python", FAIL, "cannot read the #! line of "
                         f"{os.path.relpath(inst.script('gnt-cluster'), inst.root)}",
                         "finish 'make install DESTDIR=...' of the build")
    if not os.access(interpreter, os.X_OK):
        return check_cls("ganeti python", FAIL,
                         f"its scripts name {interpreter}, which is not on this machine",
                         f"install {interpreter}, or configure Ganeti with PYTHON=python3")
    probe = f"import sys; sys.path.insert(0, {str(inst.share_dir)!r}); {PYTHON_PROBE}"
    try:
        done = subprocess.run([interpreter, "-c", probe], capture_output=True, text=True,
                              timeout=60, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return check_cls("ganeti python", FAIL, f"{interpreter} did not answer: {exc}", "")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return check_cls("ganeti python", FAIL,
                         f"{interpreter} cannot import the tree's package: {last}",
                         "install the Python modules Ganeti's INSTALL names "
                         "(Debian: python3-openssl python3-pycurl python3-pyparsing "
                         "python3-bitarray python3-simplejson ...)")
    found = done.stdout.strip()
    if not found.startswith(str(inst.share_dir)):
        return check_cls("ganeti python", FAIL, f"{interpreter} imports ganeti from {found}, "
                         "not from the tree", "check PYTHONPATH and the tree's layout")
    return check_cls("ganeti python", OK, f"{interpreter} imports the tree's ganeti package")


def _libraries(inst: Installation, check_cls):
    unresolved = {}
    checked = 0
    for daemon in HASKELL_DAEMONS:
        program = inst.daemon_program(daemon)
        if not program.exists():
            continue
        checked += 1
        try:
            done = subprocess.run(["ldd", str(program)], capture_output=True, text=True,
                                  timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return check_cls("ganeti libraries", WARN, f"cannot run ldd: {exc}",
                             "apt-get install libc-bin")
        for line in done.stdout.splitlines():
            if "not found" in line:
                unresolved.setdefault(line.split()[0], []).append(daemon)
    if unresolved:
        libs = ", ".join(f"{lib} ({', '.join(ds)})" for lib, ds in sorted(unresolved.items()))
        return check_cls("ganeti libraries", FAIL, f"not found: {libs}",
                         "install the libraries the build linked against (Debian: "
                         "the libghc-*/lib* packages of the build machine)")
    return check_cls("ganeti libraries", OK,
                     f"every shared library of {checked} Haskell daemons resolves")
