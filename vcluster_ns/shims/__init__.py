"""Small programs that shadow host programs inside a cluster.

Each shim is a two-line script written into ``<cluster>/shims`` with the
interpreter of this installation in its ``#!`` line, and made visible over
the real program by a read-only overlay (see mounts.py).  The shims run
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


def write_shims(shims_root: Path, cluster_dir: Path, python: str = sys.executable) -> None:
    """(Re)write every shim; cheap, so done at each ``up``."""
    from .. import mounts  # here: every shim imports this package, and is faster without
    for target, module in SHIMS.items():
        path = mounts.shim_path(shims_root, target)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(standalone_daemon_util(python, cluster_dir) if module == "daemon_util"
                       else f"#!{python} -I\n"
                            "import sys\n"
                            f"from vcluster_ns.shims.{module} import main\n"
                            f"sys.exit(main(sys.argv, {str(cluster_dir)!r}))\n")
        tmp.chmod(0o755)
        os.replace(tmp, path)


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
