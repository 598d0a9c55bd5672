"""``daemon-util`` inside a cluster: daemons are started by the supervisor.

Ganeti starts and stops its own daemons through daemon-util (cluster init,
node add, master failover, destroy).  The verbs that start, stop or check a
daemon go to the supervisor over the control socket, for the node named in
``GANETI_HOSTNAME``, so every daemon runs under supervision whoever asked.
Every other verb is delegated to the real script of the node's version.

Ganeti calls it often: three times per node set up (node-daemon-setup's
stop-all, start noded, start mond) and once per node added or brought
online (``EnsureKvmdOnNodes``: stop kvmd).  So the shim file is this
module's source and wire.py's, run under ``python -I -S`` without the
package (shims/__init__.py, ``standalone_daemon_util``): ``run`` and what it
calls use the standard library only, and get the rest as ``settings``.
"""

import os
import sys

SUPERVISED = {"start", "stop", "check", "check-and-start", "start-all", "stop-all",
              "start-master", "stop-master"}
NO_OP = {"reload-ssh-keys"}  # there is no sshd: ssh is a shim


def settings(cluster_dir):
    """What ``run`` needs from the package, as plain values (written into the
    standalone shim): the control socket, the daemons' names, the node's
    version's own daemon-util."""
    from pathlib import Path

    from .. import ganeti
    from ..ganeti.install import VERSIONED_DAEMON_UTIL
    from ..layout import ClusterPaths
    return {"socket": str(ClusterPaths(Path(cluster_dir)).control_socket),
            "daemons": sorted(ganeti.ALL_DAEMONS), "versioned": VERSIONED_DAEMON_UTIL}


def main(argv, cluster_dir):
    """The shim inside the package (the service shim calls it)."""
    from .. import wire
    return run(argv, settings(cluster_dir), wire)


def run(argv, settings, wire):
    """daemon-util ``argv``; ``wire``: anything with wire.py's ``exchange``
    and exceptions (the module, or the standalone shim's globals)."""
    if len(argv) < 2:
        print(f"Usage: {argv[0]} <action>", file=sys.stderr)
        return 1
    verb, args = argv[1], argv[2:]
    if verb in NO_OP:
        return 0
    if verb not in SUPERVISED:
        # The node's current version's own script (its /etc/ganeti/lib link).
        os.execv(settings["versioned"], [argv[0], verb, *args])
    node = os.environ.get("GANETI_HOSTNAME")
    if not node:
        print("daemon-util (vcluster-ns): GANETI_HOSTNAME is not set; run this "
              "as a node, e.g. 'vcluster-ns run node1 ...'", file=sys.stderr)
        return 1
    if verb in ("start", "stop", "check", "check-and-start"):
        if not args:
            print("Missing daemon name.", file=sys.stderr)
            return 1
        if args[0] not in settings["daemons"]:
            print(f"Unknown daemon name '{args[0]}'", file=sys.stderr)
            return 1
    message = {"op": verb, "node": node, "by": "ganeti"}
    if args:
        message.update(daemon=args[0], args=args[1:])
    try:
        answer = wire.exchange(settings["socket"], message, 300)
    except wire.NotListening:
        print("daemon-util (vcluster-ns): the cluster is not up (no supervisor answers "
              "on its control socket)", file=sys.stderr)
        return 1
    except wire.NoAnswer:
        print(f"daemon-util (vcluster-ns): the supervisor did not answer {verb!r} "
              "within 300s", file=sys.stderr)
        return 1
    except wire.Garbage:
        print("daemon-util (vcluster-ns): the supervisor answered garbage; see "
              "supervisor.log in the cluster directory", file=sys.stderr)
        return 1
    if not answer["ok"]:
        print(answer.get("error", "failed"), file=sys.stderr)
        return int(answer.get("exit", 1))
    return int(answer.get("exit", 0))
