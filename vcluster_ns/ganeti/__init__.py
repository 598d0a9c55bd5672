"""Everything vcluster-ns knows about Ganeti, in one package.

The namespace, network, mount and runner layers know nothing of Ganeti.
Here:

* ``install``: which Ganeti a cluster runs (the system's, or a tree given
  with ``--ganeti``), its version, its files on the host, what it accepts;
* ``daemons``: which daemons a node runs, their arguments and readiness;
* ``bootstrap``: ``gnt-cluster init`` and ``gnt-node add`` on a new cluster.

The names most callers need are reachable as ``ganeti.NAME`` too; they are
looked up on first use (PEP 562), so that a shim importing ``ganeti.install``
does not pay for the rest (every ssh and scp Ganeti runs starts a shim).
"""

from __future__ import annotations

import importlib

_MODULES = ("daemons", "install", "bootstrap")


def __getattr__(name: str):
    for module in _MODULES:
        mod = importlib.import_module(f"{__name__}.{module}")
        if not name.startswith("_") and hasattr(mod, name):
            value = getattr(mod, name)
            globals()[name] = value
            return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
