"""``daemon-util`` inside a cluster: daemons are started by the supervisor.

Ganeti starts and stops its own daemons through daemon-util (cluster init,
node add, master failover, destroy).  The verbs that start, stop or check a
daemon go to the supervisor over the control socket, for the node named in
``GANETI_HOSTNAME``, so every daemon runs under supervision whoever asked.
Every other verb is delegated to the real script of the node's version.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .. import control, ganeti
from ..errors import VclusterError
from ..layout import ClusterPaths
from ..ganeti.install import VERSIONED_DAEMON_UTIL

SUPERVISED = {"start", "stop", "check", "check-and-start", "start-all", "stop-all",
              "start-master", "stop-master"}
NO_OP = {"reload-ssh-keys"}  # there is no sshd: ssh is a shim


def main(argv: list[str], cluster_dir: str) -> int:
    paths = ClusterPaths(Path(cluster_dir))
    if len(argv) < 2:
        print(f"Usage: {argv[0]} <action>", file=sys.stderr)
        return 1
    verb, args = argv[1], argv[2:]
    if verb in NO_OP:
        return 0
    if verb not in SUPERVISED:
        # The node's current version's own script (its /etc/ganeti/lib link).
        os.execv(VERSIONED_DAEMON_UTIL, [argv[0], verb, *args])
    node = os.environ.get("GANETI_HOSTNAME")
    if not node:
        print("daemon-util (vcluster-ns): GANETI_HOSTNAME is not set; run this "
              "as a node, e.g. 'vcluster-ns run node1 ...'", file=sys.stderr)
        return 1
    if verb in ("start", "stop", "check", "check-and-start"):
        if not args:
            print("Missing daemon name.", file=sys.stderr)
            return 1
        if args[0] not in ganeti.ALL_DAEMONS:
            print(f"Unknown daemon name '{args[0]}'", file=sys.stderr)
            return 1
    message = {"op": verb, "node": node, "by": "ganeti"}
    if args:
        message.update(daemon=args[0], args=args[1:])
    try:
        answer = control.request(paths.control_socket, message, timeout=300)
    except VclusterError as exc:
        print(f"daemon-util (vcluster-ns): {exc.one_line()}", file=sys.stderr)
        return 1
    if not answer["ok"]:
        print(answer.get("error", "failed"), file=sys.stderr)
        return int(answer.get("exit", 1))
    return int(answer.get("exit", 0))
