"""Where an installation keeps Ganeti's QA, and how QA is started.

The one module that knows QA's paths: Debian's ``ganeti-testsuite`` below
a root (``/`` or a ``--ganeti`` tree), or the ``qa/`` of a source
checkout (``--qa-dir``); which Python and ``PYTHONPATH`` run it; and
where ``driver.py`` is, the file that Python is given.  Runs on the
host; nothing here starts anything.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class QaInstallation:
    """Ganeti's QA directory and how to run its ``ganeti-qa.py``."""

    qa_dir: Path            # holds ganeti-qa.py and the qa_*.py modules
    python: str             # the Python Ganeti's own programs use
    pythonpath: tuple[str, ...]  # where ``import ganeti`` is found
    # QA runs <qa_dir>/../tools/burnin, a source tree's layout; an installed
    # QA (Debian's ganeti-testsuite) has no tools/ next to it: then the
    # installed burnin, which ``staged`` puts where QA looks.
    burnin: Path | None = None

    @property
    def script(self) -> Path:
        return self.qa_dir / "ganeti-qa.py"

    def staged(self, dest: Path) -> "QaInstallation":
        """This QA as QA expects to sit: a copy of its directory in
        ``dest/qa`` with ``dest/tools/burnin`` next to it (only when the
        installation's layout lacks it; else itself)."""
        if self.burnin is None or (self.qa_dir.parent / "tools/burnin").exists():
            return self
        import shutil
        shutil.copytree(self.qa_dir, dest / "qa", symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        (dest / "tools").mkdir(exist_ok=True)
        (dest / "tools/burnin").symlink_to(self.burnin)
        return dataclasses.replace(self, qa_dir=dest / "qa", burnin=None)

    def missing(self) -> str | None:
        """What is missing to run QA, or None."""
        if not self.script.is_file():
            return f"Ganeti's QA suite ({self.script}) is not installed"
        if not any((Path(p) / "ganeti").is_dir() for p in self.pythonpath):
            return f"Ganeti's Python package is not in {':'.join(self.pythonpath)}"
        return None


def qa_installation(root: Path = Path("/"), qa_dir: Path | None = None,
                    package_dir: Path | None = None) -> QaInstallation:
    """The QA of the Ganeti installed below ``root`` (Debian's layout:
    package ``ganeti-testsuite``), or the QA directory ``qa_dir`` of a
    source tree.  The only function that knows these paths."""
    share = root / "usr/share/ganeti"
    if qa_dir is None:
        qa_dir = share / "testsuite/qa"
    # Debian's gnt-* are symlinks into <share>/<version>/, which holds the
    # ``ganeti`` package; "default" points at the version in use.
    pythonpath = (str((share / "default").resolve()),)
    if package_dir is not None:  # an installation tree: its own package
        pythonpath = (str(package_dir),)
    tree = qa_dir.parent
    # A built source tree: qa/ next to lib/ and the ganeti -> lib link.
    if (tree / "lib/__init__.py").is_file() or (tree / "ganeti").is_dir():
        pythonpath = (str(tree),) + pythonpath
    burnin = root / "usr/lib/ganeti/tools/burnin"
    return QaInstallation(qa_dir=qa_dir, python="/usr/bin/python3", pythonpath=pythonpath,
                          burnin=burnin if burnin.exists() else None)


def driver_script() -> Path:
    """driver.py, run by path with the installation's Python inside the
    cluster (so it must import nothing of vcluster-ns)."""
    return Path(__file__).with_name("driver.py")
