"""What every shim needs: the cluster it belongs to and how to enter a node."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

from .. import nodes
from ..layout import ClusterPaths
from ..spec import ClusterSpec

# Names of "this machine", as in /etc/hosts (Ganeti's QA ssh-es to localhost).
LOCALHOST = ("localhost", "localhost.localdomain", "ip6-localhost", "127.0.0.1", "::1")


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
            return current if current in spec.all_node_names else None
        for node, ip in spec.all_node_ips.items():
            if host in (node, node.split(".")[0], str(ip), str(spec.node_secondary_ip(node))):
                return node
        if host in (spec.cluster_fqdn, spec.cluster_name, str(spec.cluster_ip)):
            from ..ganeti import ssconf
            roots = {n: self.paths.node_root(n) for n in spec.node_names}
            return ssconf.current_master(roots, spec.master_node)
        return None

    def is_known_address(self, host: str) -> bool:
        spec = self.spec
        if host in spec.instance_ips or host in {n.split(".")[0] for n in spec.instance_names}:
            return True
        try:
            return ipaddress.ip_address(host) in spec.ip_network
        except ValueError:
            return False

    def nsenter(self, node: str, argv: list[str]) -> list[str]:
        return nodes.nsenter(self.paths, node, self.spec.isolated, argv)


def error(program: str, message: str, code: int) -> int:
    print(f"{program}: {message}", file=sys.stderr)
    return code
