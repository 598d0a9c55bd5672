"""Small programs that shadow host programs inside a cluster.

Each shim is a short script written into ``<cluster>/shims`` with the
interpreter of this installation in its ``#!`` line, and made visible over
the real program by a read-only overlay (see mounts.py).  Most import the
package; the two Ganeti runs most (ssh, daemon-util) are standalone files
that need only the standard library.  The shims run
inside the cluster's namespaces, called by Ganeti or by a user's shell.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..ganeti.install import DAEMON_UTIL

# program path inside the namespace -> module in this package
SHIMS = {
    "/usr/bin/ssh": "ssh",
    "/usr/bin/scp": "scp",
    DAEMON_UTIL: "daemon_util",
    "/usr/sbin/reboot": "refuse",
    "/usr/sbin/poweroff": "refuse",
    "/usr/sbin/halt": "refuse",
    "/usr/sbin/shutdown": "refuse",
    # "service ganeti restart" with the node's environment (see service.py)
    "/usr/sbin/service": "service",
}
SHIM_TARGETS = sorted(SHIMS)
# The standalone ssh shim's view of the cluster (ssh.table), in the shims root.
SSH_TABLE = "ssh-table.json"


def write_shims(shims_root: Path, cluster_dir: Path, python: str = sys.executable) -> None:
    """(Re)write every shim; cheap, so done at each ``up``."""
    from .. import mounts  # here: every shim imports this package, and is faster without
    shims_root.mkdir(parents=True, exist_ok=True)
    write_ssh_table(shims_root / SSH_TABLE, cluster_dir)
    for target, module in SHIMS.items():
        path = mounts.shim_path(shims_root, target)
        path.parent.mkdir(parents=True, exist_ok=True)
        if module == "daemon_util":
            text = standalone_daemon_util(python, cluster_dir)
        elif module == "ssh":
            text = standalone_ssh(python, cluster_dir, shims_root / SSH_TABLE)
        else:
            text = package_shim(python, cluster_dir, module)
        _replace(path, text, 0o755)


def package_shim(python: str, cluster_dir: Path, module: str) -> str:
    """A shim that imports the package (about 40 ms of CPU a call)."""
    return (f"#!{python} -I\n"
            "import sys\n"
            f"from vcluster_ns.shims.{module} import main\n"
            f"sys.exit(main(sys.argv, {str(cluster_dir)!r}))\n")


def _replace(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    os.replace(tmp, path)


def write_ssh_table(path: Path, cluster_dir: Path) -> None:
    """What the standalone ssh shim reads at each call (ssh.table); none
    without a cluster file yet: the shim then always falls back."""
    import json

    from ..layout import ClusterPaths
    from . import ssh
    if not ClusterPaths(Path(cluster_dir)).spec_file.exists():
        path.unlink(missing_ok=True)
        return
    _replace(path, json.dumps(ssh.table(str(cluster_dir))), 0o644)


def standalone_ssh(python: str, cluster_dir: Path, table: Path) -> str:
    """The ssh shim as one file run under ``-IS`` (see ssh.py): a node of
    this machine is entered without the package; anything else execs the
    package's shim."""
    import inspect

    from . import ssh
    # sys.argv under -c is ['-c', *arguments]: main reads argv[1:], as here.
    fallback = [python, "-I", "-c", "import sys; from vcluster_ns.shims.ssh import main; "
                f"sys.exit(main(sys.argv, {str(cluster_dir)!r}))"]
    return (f"#!{python} -IS\n"
            + inspect.getsource(ssh) + "\n"
            + f"sys.exit(run(sys.argv, load_table({str(table)!r}), "
              f"lambda: os.execv({python!r}, {fallback!r} + sys.argv[1:])))\n")


def standalone_daemon_util(python: str, cluster_dir: Path) -> str:
    """The daemon-util shim as one file that needs neither the package nor
    site-packages (``-IS``): wire.py's source, daemon_util.py's, and the
    values ``daemon_util.run`` takes from the package.  Ganeti runs it a few
    times per node it adds or brings online; importing the package took
    about 60 ms of CPU a call, Python alone about 15."""
    import inspect

    from .. import wire
    from . import daemon_util
    return (f"#!{python} -IS\n"
            + inspect.getsource(wire) + "\n"
            + inspect.getsource(daemon_util) + "\n"
            + f"sys.exit(run(sys.argv, {daemon_util.settings(str(cluster_dir))!r}, "
              "sys.modules[__name__]))\n")
