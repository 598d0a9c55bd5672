"""ganeti/qa/config.py: the QA config built from a cluster."""

import json
from pathlib import Path

from vcluster_ns.ganeti.qa.catalogue import select
from vcluster_ns.ganeti.qa.config import build_config, facts_from_spec, rename_ip
from vcluster_ns.layout import render_node_cmd
from vcluster_ns.spec import ClusterSpec

KNOWN = {"create-cluster", "cluster-verify"}


def _config(**spec_args):
    spec = ClusterSpec(name="qa-1", nodes=3, **spec_args)
    facts = facts_from_spec(spec, Path("/home/u/.local/share/vcluster-ns/qa-1"))
    return build_config(facts, select(KNOWN, only=["cluster-verify"]))


def test_config_is_qa_virtual_cluster_mode():
    cfg = _config(secondary_network="198.51.100.0/24")
    assert cfg["vcluster-master"] == "node1"
    assert cfg["vcluster-basedir"] == "/home/u/.local/share/vcluster-ns/qa-1"
    assert cfg["nodes"] == [{"primary": "node1", "secondary": "198.51.100.10"},
                            {"primary": "node2", "secondary": "198.51.100.11"},
                            {"primary": "node3", "secondary": "198.51.100.12"}]
    assert cfg["name"] == "cluster" and cfg["rename"] == "cluster-renamed"
    assert cfg["enabled-hypervisors"] == "fake"
    assert cfg["enabled-disk-templates"] == ["diskless", "file", "sharedfile"]
    # File storage is each node's own, shared storage is shared: sharedfile
    # failover and migration need the two apart.
    assert cfg["default-file-storage-dir"] == "/srv/ganeti/file-storage"
    assert cfg["default-shared-file-storage-dir"] == "/srv/ganeti/shared-file-storage"
    assert cfg["os"] in ("dummy", "noop")
    assert cfg["master-netdev"] == "eth0"
    assert cfg["default-nicparams"] == {"mode": "bridged", "link": "vcbr0"}
    assert cfg["instances"][0] == {"name": "instance1"}
    assert cfg["tests"]["cluster-verify"] is True and cfg["tests"]["default"] is False
    assert cfg["modify_ssh_setup"] is False
    json.dumps(cfg)  # QA reads it as JSON


def test_rename_target_has_an_address_of_its_own():
    spec = ClusterSpec(name="qa-1", nodes=3)
    ip = rename_ip(spec)
    assert ip != spec.cluster_ip and ip != spec.switch_ip
    assert ip not in spec.node_ips.values() and ip not in spec.instance_ips.values()
    assert ip in spec.ip_network


def test_config_init_args_keep_ours_and_leave_qa_its_own():
    args = _config()["cluster-init-args"]
    assert "--no-etc-hosts" in args
    assert any(a.startswith("--ipolicy-bounds-specs=") for a in args)
    # QA gives these itself (from the keys above); twice would be wrong.
    assert not any(a.startswith(("--enabled-hypervisors", "--master-netdev",
                                 "--nic-parameters", "--file-storage-dir",
                                 "--no-ssh-init", "-s")) for a in args)
    assert "cluster" not in args  # the name comes last, from QA


def test_config_without_secondary_network_and_shared_mode():
    cfg = _config(network_mode="shared")
    assert cfg["nodes"][0] == {"primary": "node1"}
    assert cfg["master-netdev"] == "lo"


def test_config_with_domain_renames_within_it():
    cfg = _config(domain="example.test")
    assert cfg["name"] == "cluster.example.test"
    assert cfg["rename"] == "cluster-renamed.example.test"
    assert cfg["nodes"][0]["primary"] == "node1.example.test"


def test_node_cmd_runs_bash_c_on_its_node_inside_and_outside():
    text = render_node_cmd(["/venv/python", "-m", "vcluster_ns.entry"], Path("/r"), "c1", "node2")
    assert text.startswith("#!/bin/sh\n")
    assert 'exec /usr/bin/ssh node2 "$*"' in text  # inside: the ssh shim
    # ... unless already on node2 (the shim sets GANETI_HOSTNAME): no second hop
    assert 'if [ "$GANETI_HOSTNAME" = node2 ]; then exec /bin/bash -c "$*"; fi' in text
    assert ('exec /venv/python -m vcluster_ns.entry --root /r --cluster c1 run node2 '
            '/bin/bash -c "$*"') in text


def test_upgrade_versions_go_into_the_config():
    spec = ClusterSpec(name="qa-1", nodes=2)
    facts = facts_from_spec(spec, Path("/c/qa-1"))
    plain = build_config(facts, select(KNOWN, only=["cluster-verify"]))
    assert "dir-version" not in plain and "other-dir-version" not in plain
    cfg = build_config(facts, select(KNOWN, only=["cluster-verify"]), ("3.0", "3.1"))
    assert cfg["dir-version"] == "3.0" and cfg["other-dir-version"] == "3.1"
    assert cfg["upgrade-instances"] == ["file", "sharedfile"]
