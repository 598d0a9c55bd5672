"""The QA config (QA's ``qa-sample.json`` format) for one virtual cluster.

QA runs in its virtual-cluster mode: it reaches node N as
``ssh <vcluster-master> <basedir>/N/cmd CMD``.  ``facts_from_spec`` takes
what the config needs from a cluster's spec (``ClusterFacts``: names,
addresses, directories, vcluster-ns's own ``gnt-cluster init`` flags);
``build_config`` turns facts and a ``catalogue.Selection`` into the JSON
QA reads; ``rename_name``/``rename_ip`` are the second cluster name QA
renames to, which must resolve inside the cluster.  Run on the host,
before QA starts.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ...layout import FILE_STORAGE_DIR, SHARED_FILE_STORAGE_DIR
from .catalogue import Selection

# Small disks: instances' file disks are sparse files on the host's disk.
DISKS = [
    {"name": "disk0", "size": "256M", "growth": "128M", "spindles": 1, "spindles-growth": 0},
    {"name": "disk1", "size": "128M", "growth": "64M", "spindles": 1, "spindles-growth": 0},
]
DISK_TEMPLATES = ["diskless", "file", "sharedfile"]
# Instances QA's upgrade test keeps over both upgrades (those whose
# instance-add-* test is on): file disks, which a virtual cluster has.
UPGRADE_TEMPLATES = ["file", "sharedfile"]


@dataclasses.dataclass(frozen=True)
class ClusterFacts:
    """What the QA config needs from a cluster (taken from its spec)."""

    name: str                         # the Ganeti cluster name
    rename: str                       # a second name of the cluster IP
    nodes: list[tuple[str, str | None]]  # (name, secondary IP), master first
    instances: list[str]
    basedir: str                      # the cluster directory: node roots below it
    master_netdev: str
    bridge: str
    file_storage_dir: str
    shared_file_storage_dir: str
    init_args: list[str]
    os: str = "dummy"


def build_config(facts: ClusterFacts, selection: Selection,
                 upgrade: tuple[str, str] | None = None) -> dict:
    """QA's JSON config (see QA's qa-sample.json) for a virtual cluster.

    ``upgrade``: the version directories (``DIR_VERSION``) of the Ganeti
    the cluster runs and of a second one installed beside it, for QA's
    ``TestUpgrade`` (``gnt-cluster upgrade --to`` the other and back), which
    also leaves an instance of each template in UPGRADE_TEMPLATES over both
    upgrades."""
    nodes = []
    for name, secondary in facts.nodes:
        node = {"primary": name}
        if secondary:
            node["secondary"] = secondary
        nodes.append(node)
    config = {
        "# Written by vcluster-ns qa": None,
        "name": facts.name,
        "rename": facts.rename,
        "vcluster-master": facts.nodes[0][0],
        "vcluster-basedir": facts.basedir,
        "enabled-hypervisors": "fake",
        "hypervisor-parameters": {},
        "backend-parameters": "",
        "os-parameters": {},
        "os-hvp": {},
        "primary_ip_version": 4,
        "enabled-disk-templates": DISK_TEMPLATES,
        "convert-disk-templates": ["file", "sharedfile"],
        "default-file-storage-dir": facts.file_storage_dir,
        "default-shared-file-storage-dir": facts.shared_file_storage_dir,
        "cluster-init-args": list(facts.init_args),
        "master-netdev": facts.master_netdev,
        "default-nicparams": {"mode": "bridged", "link": facts.bridge},
        "os": facts.os,
        "maxmem": "128M",
        "minmem": "64M",
        "disks": DISKS,
        "instance-check": None,
        "ignore-tags-re": None,
        # Ganeti's ssh setup would rewrite /root/.ssh; the cluster's ssh is a shim.
        "modify_ssh_setup": False,
        "nodes": nodes,
        "instances": [{"name": name} for name in facts.instances],
        "groups": {"group-with-nodes": "default",
                   "inexistent-groups": ["group1", "group2", "group3"]},
        "networks": {"inexistent-networks": ["network1", "network2", "network3"]},
        "tests": dict(selection.tests),
        "options": {
            "burnin-instances": 2,
            "burnin-disk-template": "file",
            "burnin-in-parallel": False,
            "burnin-check-instances": False,
            "burnin-rename": facts.instances[-1],
            "burnin-reboot": True,
            "reboot-types": ["soft", "hard", "full"],
            "use-iallocators": False,
        },
    }
    if upgrade is not None:
        config["dir-version"], config["other-dir-version"] = upgrade
        config["upgrade-instances"] = list(UPGRADE_TEMPLATES)
    return config


def facts_from_spec(spec, basedir: Path) -> ClusterFacts:
    """The ClusterFacts of a vcluster-ns cluster (a ``spec.ClusterSpec``)."""
    from ...netns import BRIDGE, PRIMARY_IFNAME
    from ..bootstrap import init_argv

    # Ganeti's own init flags for this cluster, less those QA gives itself.
    init = init_argv(spec)
    qa_owns = ("--enabled-hypervisors", "--enabled-disk-templates", "--file-storage-dir",
               "--no-ssh-init",
               "--master-netdev", "--nic-parameters", "-s")
    extra = []
    skip_next = False
    for arg in init[2:-1]:
        if skip_next:
            skip_next = False
            continue
        if arg == "-s":
            skip_next = True
            continue
        if not arg.startswith(qa_owns):
            extra.append(arg)
    master = spec.master_node
    order = [master] + [n for n in spec.node_names if n != master]
    secondary = {n: spec.node_secondary_ip(n) for n in order}
    return ClusterFacts(
        name=spec.cluster_fqdn,
        rename=rename_name(spec.cluster_fqdn),
        nodes=[(n, str(secondary[n]) if secondary[n] else None) for n in order],
        instances=list(spec.instance_names),
        basedir=str(basedir),
        master_netdev=PRIMARY_IFNAME if spec.isolated else "lo",
        bridge=BRIDGE,
        file_storage_dir=FILE_STORAGE_DIR,
        shared_file_storage_dir=SHARED_FILE_STORAGE_DIR,
        init_args=extra,
    )


def rename_ip(spec):
    """The address of the rename target: host 3 of the network, unused
    (1 is the cluster's, 2 the switch's, nodes start at 10)."""
    return spec.ip_network.network_address + 3


def rename_name(cluster: str) -> str:
    """The name QA renames the cluster to (and back): it must resolve."""
    short, dot, domain = cluster.partition(".")
    return f"{short}-renamed{dot}{domain}"
