"""What every shim needs: the cluster it belongs to and how to enter a node."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

from ..layout import ClusterPaths
from ..spec import ClusterSpec

NSENTER = "/usr/bin/nsenter"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Names of "this machine", as in /etc/hosts (Ganeti's QA ssh-es to localhost).
LOCALHOST = ("localhost", "localhost.localdomain", "ip6-localhost", "127.0.0.1", "::1")


def search_path(caller: str | None = None) -> str:
    """PATH for the cluster's own processes: the system directories first
    (an ordinary Debian user's PATH lacks /usr/sbin, where tc and ip live),
    then whatever else the caller had."""
    dirs = BASE_PATH.split(":")
    extra = [d for d in (caller if caller is not None else os.environ.get("PATH", "")).split(":")
             if d and d not in dirs]
    return ":".join(dirs + extra)


class Cluster:
    def __init__(self, cluster_dir: str):
        self.paths = ClusterPaths(Path(cluster_dir))
        self.spec = ClusterSpec.load(self.paths.spec_file)

    def node_for_host(self, host: str, current: str | None = None) -> str | None:
        """The node a host name or address refers to: a node's name, primary or
        secondary IP; the master for the cluster's name or IP; ``current``
        (the caller's own node, if it has one) for ``localhost``."""
        spec = self.spec
        if host in LOCALHOST:
            return current if current in spec.node_names else None
        for node, ip in spec.node_ips.items():
            if host in (node, node.split(".")[0], str(ip), str(spec.node_secondary_ip(node))):
                return node
        if host in (spec.cluster_fqdn, spec.cluster_name, str(spec.cluster_ip)):
            from ..ganeti import master_of
            return master_of(self.paths.node_root(spec.master_node)) or spec.master_node
        return None

    def is_known_address(self, host: str) -> bool:
        spec = self.spec
        if host in spec.instance_ips or host in {n.split(".")[0] for n in spec.instance_names}:
            return True
        try:
            return ipaddress.ip_address(host) in spec.ip_network
        except ValueError:
            return False

    def node_anchor(self, node: str) -> int:
        return int(self.paths.node_anchor_file(node).read_text())

    def nsenter_options(self, node: str) -> list[str]:
        """nsenter's options to become ``node`` from inside the cluster."""
        base = f"/proc/{self.node_anchor(node)}/ns"
        options = [f"--mount={base}/mnt"]
        if self.spec.isolated:
            options += [f"--net={base}/net", f"--uts={base}/uts"]
        return options

    def node_env(self, node: str, base: dict | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env.update(GANETI_ROOTDIR=str(self.paths.node_root(node)), GANETI_HOSTNAME=node)
        env.setdefault("PATH", BASE_PATH)
        env.setdefault("HOME", "/root")
        return env

    def nsenter(self, node: str, argv: list[str]) -> list[str]:
        return [NSENTER, *self.nsenter_options(node), "--", *argv]


def error(program: str, message: str, code: int) -> int:
    print(f"{program}: {message}", file=sys.stderr)
    return code
