"""RAPI from the host, with Ganeti's own client, following the master."""

from __future__ import annotations

import json
import subprocess

import pytest

from helpers import Cli

CLIENT = """
import json, sys
sys.path.insert(0, "/usr/share/ganeti/3.0")
from ganeti.rapi import client
url, user, password, ca, action = sys.argv[1:6]
port = int(url.rsplit(":", 1)[1])
c = client.GanetiRapiClient("127.0.0.1", port=port, username=user, password=password,
    curl_config_fn=client.GenericCurlConfig(cafile=ca, verify_hostname=False))
if action == "nodes":
    print(json.dumps(sorted(c.GetNodes())))
elif action == "create":
    job = c.CreateInstance("create", "rapi1", "diskless", [], [], os="noop",
                           pnode="node2", name_check=False, ip_check=False)
    assert c.WaitForJobCompletion(job, period=1, retries=120)
    print(json.dumps(c.GetInstances()))
elif action == "remove":
    assert c.WaitForJobCompletion(c.DeleteInstance("rapi1"), period=1, retries=120)
    print(json.dumps(c.GetInstances()))
elif action == "master":
    print(json.dumps(c.GetInfo()["master"]))
"""


@pytest.fixture(scope="module")
def rapi_cluster(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("rapi") / "clusters")
    cli("up", "--nodes", "2", "--rapi-port", "0")
    yield cli
    cli("down", check=False)


def rapi(cli: Cli, action: str):
    info = json.loads(cli("status", "--json").stdout)["rapi"]
    password = open(info["password_file"]).read().strip()
    # Ganeti's client runs with the host's own Python, outside every namespace.
    out = subprocess.run(["/usr/bin/python3", "-c", CLIENT, info["url"], info["user"],
                          password, info["ca"], action],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_curl_reaches_rapi_info_on_host_loopback(rapi_cluster: Cli):
    url = json.loads(rapi_cluster("status", "--json").stdout)["rapi"]["url"]
    assert url.startswith("https://127.0.0.1:")
    out = subprocess.run(["curl", "-sk", f"{url}/2/info"], capture_output=True, text=True,
                         timeout=60)
    assert json.loads(out.stdout)["software_version"].startswith("3.0")


def test_ganeti_rapi_client_lists_creates_and_removes(rapi_cluster: Cli):
    assert rapi(rapi_cluster, "nodes") == ["node1", "node2"]
    assert rapi(rapi_cluster, "create") == ["rapi1"]
    assert rapi(rapi_cluster, "remove") == []


def test_rapi_follows_the_master_after_failover(rapi_cluster: Cli):
    rapi_cluster("run", "node2", "gnt-cluster", "master-failover")
    assert rapi(rapi_cluster, "master") == "node2"
    rapi_cluster("run", "node1", "gnt-cluster", "master-failover")
    assert rapi(rapi_cluster, "master") == "node1"
