"""Everything vcluster-ns knows about Ganeti, in one package.

The namespace, network, mount and runner layers know nothing of Ganeti.
Here:

* ``install``: which Ganeti a cluster runs (the system's, or a tree given
  with ``--ganeti``), its version, its files on the host, what it accepts;
* ``daemons``: which daemons a node runs, and the whole description of one
  (argv, environment, readiness, exits, pid file) for the runner;
* ``ssconf``: what the nodes' ssconf files say (joined, the current
  master, roles);
* ``rapi``: RAPI's user, password, certificate and target;
* ``bootstrap``: ``gnt-cluster init``, the node adds, finishing
  interrupted work;
* ``join``: how nodes join, node by node or linearly (``up --node-adds``);
* ``resources``, ``seed``, ``treecheck``: a node's memory and CPUs, a cluster
  file's instances, ``doctor --ganeti``;
* ``qa``: Ganeti's own QA suite.

Nothing here imports the host-side facade (``cluster.py``) or the service:
what they need comes in as arguments.

The names most callers need are reachable as ``ganeti.NAME`` too; they are
looked up on first use (PEP 562), so that a shim importing ``ganeti.install``
does not pay for the rest (every ssh and scp Ganeti runs starts a shim).
"""

from __future__ import annotations

import importlib

_MODULES = ("daemons", "ssconf", "install", "bootstrap", "join")


def __getattr__(name: str):
    for module in _MODULES:
        mod = importlib.import_module(f"{__name__}.{module}")
        if not name.startswith("_") and hasattr(mod, name):
            value = getattr(mod, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
