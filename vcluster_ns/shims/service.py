"""``service`` inside a cluster: ``service ganeti ACTION`` acts on this
node's daemons through the supervisor; other services are refused.

The real ``service`` runs ``/etc/init.d/ganeti`` under ``env -i``, which
drops ``GANETI_HOSTNAME`` and ``GANETI_ROOTDIR``: the script then finds no
configuration ("Missing configuration file /var/lib/ganeti/server.pem")
and daemon-util no node, so nothing is restarted, while the command still
looks done.  Ganeti's QA restarts ganeti this way after writing RAPI's
users file (``qa_rapi._CreateRapiUser``), and since Ganeti 3.2 (master,
commit 31bc959b) the RAPI daemon reads that file only when it starts or
gets SIGHUP (``server/rapi.py``, ``PrepRapi``): without a real restart
QA's RAPI client gets "401 Unauthorized".  So the shim does what the init
script does, the node's ``daemon-util stop-all``/``start-all``, through
the daemon-util shim (the supervisor), with the node's environment kept.

Any other service is not the cluster's: its init script would act on the
host's programs, so it is refused.
"""

from __future__ import annotations

import os
import sys

from ..errors import ExitCode
from ..ganeti.install import DAEMON_UTIL
from . import daemon_util

# The init script's actions, as daemon-util verbs in order.
ACTIONS = {
    "start": ("start-all",),
    "stop": ("stop-all",),
    "restart": ("stop-all", "start-all"),
    "force-reload": ("stop-all", "start-all"),
}


def verbs_for(args: list[str]) -> tuple[str, ...] | str:
    """The daemon-util verbs for ``service ARGS``, or why it is refused."""
    if len(args) < 2:
        return "usage: service ganeti {start|stop|restart|force-reload}"
    name, action = args[0], args[1]
    if name != "ganeti":
        return (f"refused: 'service {name}' would run the host's init script; inside a "
                "vcluster-ns cluster only 'service ganeti' acts (on this node's daemons)")
    if action not in ACTIONS:
        return f"service ganeti: unknown action {action!r} (start, stop, restart, force-reload)"
    return ACTIONS[action]


def main(argv: list[str], cluster_dir: str) -> int:
    verbs = verbs_for(argv[1:])
    if isinstance(verbs, str):
        print(f"vcluster-ns: {verbs}", file=sys.stderr)
        return int(ExitCode.REFUSED) if verbs.startswith("refused") else 1
    node = os.environ.get("GANETI_HOSTNAME", "?")
    for verb in verbs:
        print(f"vcluster-ns: daemon-util {verb} on {node}", file=sys.stderr)
        code = daemon_util.main([DAEMON_UTIL, verb], cluster_dir)
        if code != 0:
            return code
    return 0
