"""Ganeti's RAPI on a virtual cluster: its user, password, certificate, target.

Every node gets the same RAPI user (``vcluster``, write access) in its
``rapi/users`` file, so RAPI works on whichever node is master.  The
password is made once per cluster and kept in the cluster directory
(``rapi-password``, mode 0600).  With ``up --rapi-port`` the supervisor
forwards a port of the host's loopback to the current master's RAPI daemon
(``target``); ``status`` shows the URL, the user and where the password
and the CA certificate are (``status_entry``).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from ..layout import ClusterPaths
from ..spec import ClusterSpec
from .daemons import PORTS

PORT = PORTS["ganeti-rapi"]
USER = "vcluster"


def users_file(node_root: Path) -> Path:
    return node_root / "var/lib/ganeti/rapi/users"


def certificate(node_root: Path) -> Path:
    """The RAPI server's self-signed certificate: the CA a client must trust."""
    return node_root / "var/lib/ganeti/rapi.pem"


def render_users(password: str) -> str:
    return f"# Written by vcluster-ns\n{USER} {password} write\n"


def password(paths: ClusterPaths) -> str:
    """The cluster's RAPI password (made now for clusters made before RAPI users)."""
    path = paths.rapi_password_file
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(18) + "\n")
    return path.read_text().strip()


def write_users(paths: ClusterPaths, node: str) -> None:
    """The RAPI user on ``node`` (once its data directory exists)."""
    users = users_file(paths.node_root(node))
    if users.parent.is_dir():
        users.write_text(render_users(password(paths)))
        users.chmod(0o640)


def target(spec: ClusterSpec, master: str | None) -> tuple[str, int]:
    """Where the RAPI daemon of the master listens (the first node before
    there is one)."""
    return str(spec.node_ip(master or spec.master_node)), PORT


def status_entry(paths: ClusterPaths, spec: ClusterSpec, master: str | None) -> dict | None:
    """What ``status`` shows of RAPI (None: not forwarded to the host)."""
    if spec.rapi_port is None:
        return None
    port = paths.rapi_port_file.read_text().strip()
    return {"url": f"https://127.0.0.1:{port}", "user": USER,
            "password_file": str(paths.rapi_password_file),
            "ca": str(certificate(paths.node_root(master or spec.master_node)))}
