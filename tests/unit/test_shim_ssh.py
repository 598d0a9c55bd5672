"""The ssh shim as written into a cluster: one standalone file under
``python -IS`` that enters a node of this machine from its table, exactly as
the package would, and hands everything else to the package's shim."""

import json
import os
import subprocess
import sys

import pytest

from vcluster_ns import mounts
from vcluster_ns.layout import ClusterPaths
from vcluster_ns.shims import SSH_TABLE, ssh, write_shims
from vcluster_ns.spec import ClusterSpec


def cluster(tmp_path, **spec_args):
    """A cluster directory as ``up`` leaves it for the shims: its file, its
    shims, and anchor files naming (made-up) pids."""
    if spec_args.get("network_mode", "isolated") == "isolated":
        spec_args.setdefault("secondary_network", "198.51.100.0/24")
    spec = ClusterSpec(name="c", nodes=3, **spec_args)
    paths = ClusterPaths(tmp_path)
    spec.save(paths.spec_file)
    paths.ns_dir.mkdir(parents=True, exist_ok=True)
    for i, node in enumerate(spec.node_names):
        paths.node_anchor_file(node).write_text(str(40 + i))
    write_shims(paths.shims, tmp_path)
    return paths, spec


def run_shim(paths, *args, env=None):
    shim = mounts.shim_path(paths.shims, "/usr/bin/ssh")
    return subprocess.run([str(shim), *args], env={"PATH": "/usr/bin:/bin", **(env or {})},
                          capture_output=True, text=True, timeout=60)


def test_the_shim_needs_neither_the_package_nor_site_packages(tmp_path):
    paths, _ = cluster(tmp_path)
    text = mounts.shim_path(paths.shims, "/usr/bin/ssh").read_text()
    assert text.startswith(f"#!{sys.executable} -IS\n")
    body = text.split("lambda:", 1)[0]  # the fallback names the package's shim
    assert "import vcluster_ns" not in body and "from vcluster_ns" not in body
    assert "\nfrom ." not in body.split("def table(", 1)[0]


@pytest.mark.parametrize("mode", ["isolated", "shared"])
def test_the_table_enters_a_node_as_the_package_does(tmp_path, mode):
    paths, spec = cluster(tmp_path, network_mode=mode)
    table = json.loads((paths.shims / SSH_TABLE).read_text())
    base = {"LANG": "de_DE.UTF-8", "PYTHONPATH": "/x", "VIRTUAL_ENV": "/v",
            "GANETI_HOSTNAME": "node1", "GANETI_ROOTDIR": str(tmp_path / "node1"),
            "TERM": "xterm", "PATH": "/home/me/bin"}
    for script in ("gnt-node list", None):
        for env in (base, {}):
            assert ssh.table_command(table, "node2", script, env) == \
                ssh.node_command(paths, spec, "node2", script, env)


@pytest.mark.parametrize("host, current, node", [
    ("node2", None, "node2"),
    ("root@node3", None, "node3"),
    ("192.0.2.11", None, "node2"),          # primary IP
    ("198.51.100.12", None, "node3"),       # secondary IP
    ("localhost", "node3", "node3"),
    ("ssh://root@[192.0.2.10]:22", None, "node1"),
])
def test_names_and_addresses_of_this_machines_nodes_are_entered(tmp_path, monkeypatch,
                                                                 host, current, node):
    paths, _ = cluster(tmp_path)
    table = ssh.table(str(tmp_path))
    if current:
        monkeypatch.setenv("GANETI_HOSTNAME", current)
    entered = []
    monkeypatch.setattr(ssh, "enter", lambda t, n, o, c: entered.append((n, c)) or 0)
    assert ssh.run(["ssh", host, "hostname"], table, lambda: 99) == 0
    assert entered == [(node, ["hostname"])]


@pytest.mark.parametrize("host", ["cluster", "192.0.2.1", "192.0.2.254", "localhost",
                                  "198.51.100.99", "node9"])
def test_everything_else_goes_to_the_fallback(tmp_path, monkeypatch, host):
    paths, _ = cluster(tmp_path)
    monkeypatch.delenv("GANETI_HOSTNAME", raising=False)
    monkeypatch.setattr(ssh, "enter", lambda *a: pytest.fail("entered"))
    assert ssh.run(["ssh", host, "true"], ssh.table(str(tmp_path)), lambda: 99) == 99
    assert ssh.run(["ssh", "node1", "true"], None, lambda: 98) == 98  # no table


def test_another_slices_node_goes_to_the_fallback(tmp_path, monkeypatch):
    table = ssh.table(str(cluster(tmp_path, slice="1-2")[0].dir))
    monkeypatch.setattr(ssh, "enter", lambda *a: pytest.fail("entered"))
    assert "node3" not in table["roots"]
    assert ssh.run(["ssh", "node3", "true"], table, lambda: 99) == 99


def test_the_written_shim_falls_back_to_the_package_for_an_unknown_host(tmp_path):
    paths, _ = cluster(tmp_path)
    result = run_shim(paths, "-o", "BatchMode=yes", "nowhere", "true")
    assert (result.returncode, result.stderr.strip()) == (
        255, "ssh: Could not resolve hostname nowhere: Name or service not known")
    result = run_shim(paths, "192.0.2.200", "true")
    assert result.stderr.strip() == "ssh: connect to host 192.0.2.200 port 22: No route to host"


@pytest.mark.parametrize("args, code, message", [
    (("-V",), 0, "OpenSSH-compatible vcluster-ns shim"),
    (("-Z", "node1"), 255, "ssh: unknown option -- Z"),
    ((), 255, "ssh: usage: ssh [options] destination [command [argument ...]]"),
])
def test_the_written_shim_answers_options_alone(tmp_path, args, code, message):
    paths, _ = cluster(tmp_path)
    result = run_shim(paths, *args)
    assert (result.returncode, result.stderr.strip()) == (code, message)
    assert "Traceback" not in result.stderr


def test_without_a_table_the_written_shim_still_works(tmp_path):
    paths, _ = cluster(tmp_path)
    os.unlink(paths.shims / SSH_TABLE)
    result = run_shim(paths, "nowhere", "true")
    assert "Could not resolve hostname nowhere" in result.stderr
