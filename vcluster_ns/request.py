"""What an ``up`` asks for: options, a cluster file and Ganeti trees, merged.

The command line wins over the cluster file (``up -f FILE --nodes 5``), and
the Ganeti trees (``--ganeti``, ``--ganeti-extra``, or the file's
``ganeti``/``ganeti_extra``) are checked and recorded with their version.
The result is one ``ClusterSpec`` and the set of its fields the user gave,
which ``up`` compares with an existing cluster.
"""

from __future__ import annotations

from pathlib import Path

from .errors import VclusterError
from .spec import ClusterSpec


def up_spec(name: str, options: dict, given: set[str], cluster_file: str | None = None,
            ganeti_tree: str | None = None, ganeti_extra: tuple[str, ...] = ()
            ) -> tuple[ClusterSpec, set[str]]:
    """The spec and given fields of ``up``'s request.

    ``options``: every spec option of the command line; ``given``: those the
    user typed (the rest are defaults, which a cluster file overrides)."""
    given = set(given)
    file_fields = None
    from_file = False
    if cluster_file:  # the file, with the options given here applied over it
        from . import clusterfile
        file_fields = clusterfile.load(cluster_file, {k: v for k, v in options.items()
                                                      if k in given})
        given |= set(file_fields)
        from_file = (ganeti_tree is None and "ganeti" in file_fields
                     or not ganeti_extra and "ganeti_extra" in file_fields)
        if ganeti_tree is None:
            ganeti_tree = file_fields.pop("ganeti", None)
        ganeti_extra = ganeti_extra or tuple(file_fields.pop("ganeti_extra", ()))
    ganeti_fields = {}
    if ganeti_tree is not None or ganeti_extra:
        from .ganeti import install
        try:
            ganeti_fields = install.spec_fields(ganeti_tree, list(ganeti_extra))
        except VclusterError as exc:
            if not from_file:
                raise
            raise type(exc)(f"{Path(cluster_file).name}: {exc.message}", exc.hint) from None
        given |= {"ganeti", "ganeti_extra"}
    if file_fields is not None:
        from . import clusterfile
        return clusterfile.make_spec(cluster_file, name, {**file_fields, **ganeti_fields}), given
    return ClusterSpec(name=name, **options, **ganeti_fields), given
