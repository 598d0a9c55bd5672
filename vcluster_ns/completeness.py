"""Is a running cluster complete?  The facts, gathered for lifecycle to judge.

lifecycle.py judges from facts and knows no Ganeti; this module gathers
them: Ganeti's side from the nodes' files (has the first node joined, was
an init cut short, which daemons each joined node should run) and the
supervisor's side from its status (which daemons run).  ``up`` asks
``missing`` until nothing is, starting what ``start_missing`` can; ``state``
is what ``status`` shows.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from . import lifecycle
from .errors import VclusterError
from .ganeti import bootstrap, daemons, join, ssconf
from .layout import ClusterPaths
from .spec import ClusterSpec

Call = Callable[..., dict]  # a control-socket request to the supervisor


def expected(paths: ClusterPaths, spec: ClusterSpec) -> dict[str, list[str]]:
    """The daemons each joined node should run, as its installation has them."""
    return daemons.expected(paths, spec.node_names, daemons.installations_of(spec))


def missing(paths: ClusterPaths, spec: ClusterSpec, call: Call, init: bool | None = None,
            status: dict | None = None) -> list[str]:
    """What a running cluster lacks to be complete, in words (empty: nothing).

    ``init``: must Ganeti be initialised (default: as the last 'up' wanted,
    or as the first node shows)."""
    master_root = paths.node_root(spec.lead_node)
    if init is None:
        init = lifecycle.init_wanted(lifecycle.read_phase(paths.dir))
        if init is None:
            init = ssconf.is_initialised(master_root)
    if not init:
        return []
    unfinished = bootstrap.init_unfinished(paths, master_root)
    if unfinished or not ssconf.is_initialised(master_root):
        return lifecycle.missing(False, unfinished, [], {})
    status = status or call({"op": "status"})
    return lifecycle.missing(True, False, status["nodes"], expected(paths, spec),
                             unfinished_join=paths.unfinished_join.exists(),
                             kept_offline=frozenset(join.wanted_offline(spec)))


def start_missing(paths: ClusterPaths, spec: ClusterSpec, call: Call,
                  progress: Callable[[str], None], timeout: float) -> bool:
    """Start the daemons joined nodes lack (True: something was started)."""
    lacking = lifecycle.missing_daemons(call({"op": "status"})["nodes"], expected(paths, spec))
    if not lacking:
        return False
    progress(f"starting the missing daemons of {len(lacking)} node(s)")
    call({"op": "nodes-start", "nodes": list(lacking)}, timeout=timeout)
    return True


def state(paths: ClusterPaths, spec: ClusterSpec, running: bool, locked_by_other: bool,
          call: Call) -> tuple[str, list[str]]:
    """The lifecycle state of an existing cluster and, when incomplete, what
    is missing."""
    record = lifecycle.read_phase(paths.dir)
    facts = lifecycle.Facts(
        exists=True, running=running, record=record, locked_by_other=locked_by_other,
        initialised=ssconf.is_initialised(paths.node_root(spec.lead_node)))
    busy = record and record[0] in lifecycle.PHASES and locked_by_other
    if running and not busy:
        try:
            facts = dataclasses.replace(facts, missing=tuple(missing(paths, spec, call)))
        except VclusterError:
            pass  # status reports the supervisor's trouble
    return lifecycle.judge(facts)
