"""A cluster's logs: which files ``logs`` shows, and ``export-logs``'s archive.

Each daemon's output, as the supervisor caught it, is in
``<cluster>/logs/<node>/<daemon>.log``; Ganeti's own logs are in each
node's ``var/log/ganeti``.  ``logs NODE DAEMON`` shows both for one daemon;
the archive holds everything, with the cluster's status.
"""

from __future__ import annotations

import time
from pathlib import Path

from .errors import InvalidInput, OperationFailed
from .ganeti import daemons
from .layout import ClusterPaths
from .spec import ClusterSpec


def daemon_name(daemon: str) -> str:
    """``noded`` or ``ganeti-noded`` -> ``ganeti-noded``; an unknown daemon
    is an error that lists the known ones."""
    name = "ganeti-" + daemon.removeprefix("ganeti-")
    if name not in daemons.ALL_DAEMONS:
        raise InvalidInput(f"unknown daemon {daemon!r}", "daemons: " + ", ".join(
            d.removeprefix("ganeti-") for d in daemons.ALL_DAEMONS))
    return name


def files(paths: ClusterPaths, node: str, daemon: str | None = None) -> list[Path]:
    """The log files of ``node`` (a full name), or of one daemon on it."""
    ganeti_dir = paths.node_root(node) / "var/log/ganeti"
    if not daemon:
        return sorted(paths.node_log_dir(node).glob("*.log")) + sorted(ganeti_dir.glob("*.log"))
    name = daemon_name(daemon)
    # Its output as the supervisor caught it, then Ganeti's own log.
    wanted = [paths.node_log_dir(node) / f"{name}.log",
              *daemons.log_files(paths.node_root(node), name)]
    found = [f for f in wanted if f.is_file()]
    if not found:
        raise InvalidInput(f"no logs for {name} on {node} yet",
                           "it has not run there; see 'vcluster-ns status'")
    return found


def export(paths: ClusterPaths, spec: ClusterSpec, status: dict, directory: Path) -> Path:
    """Pack every log of the cluster and ``status`` into one tar.gz in ``directory``."""
    import io  # here: every 'vcluster-ns run' imports this module
    import json
    import tarfile
    if not directory.is_dir():
        raise InvalidInput(f"{directory} is not a directory", "give an existing directory")
    base = f"vcluster-ns-logs-{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    archive = directory / f"{base}.tar.gz"
    text = json.dumps(status, indent=2).encode()
    try:
        with tarfile.open(archive, "w:gz") as tar:
            info = tarfile.TarInfo(f"{base}/status.json")
            info.size, info.mtime = len(text), time.time()
            tar.addfile(info, io.BytesIO(text))
            for path in (paths.supervisor_log, paths.console_log, paths.spec_file):
                if path.exists():
                    tar.add(path, f"{base}/{path.name}")
            for node in spec.node_names:
                for source, name in ((paths.node_log_dir(node), "daemons"),
                                     (paths.node_root(node) / "var/log/ganeti", "ganeti")):
                    if source.is_dir():
                        tar.add(source, f"{base}/{node}/{name}")
    except OSError as exc:
        archive.unlink(missing_ok=True)
        raise OperationFailed(f"cannot write {archive}: {exc.strerror or exc}") from None
    return archive
