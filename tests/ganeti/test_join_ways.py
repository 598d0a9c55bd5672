"""The linear join builds the cluster one ``gnt-node add`` after another does.

Two 4-node clusters with a candidate pool of 2 (so that the linear way
sends nodes offline and back): one joined ``--node-adds sequential``, one the
default linear way, whose last node first fails to join (its data
directory holds a directory where node-daemon-setup writes server.pem):
that ``up`` must fail naming the node and leave the others online and
whole; once the obstacle is gone, ``up`` finishes.  Then the two are
compared node by node: every field of ``gnt-node list``, but those that
differ by nature (IGNORED, each with its reason); the roles as counts
(which nodes win candidacy node by node depends on which add job runs
first); ssconf and ancillary files of every node equal to its master's,
and ssconf equal across the two clusters; ``gnt-cluster verify`` clean
but for this kernel's missing /proc/sysrq-trigger; and an instance is
added on, failed over to and migrated to the last node.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from helpers import Cli, incomplete

pytestmark = pytest.mark.ganeti

NODES = ("node1", "node2", "node3", "node4")
CLUSTER_FILE = """node_count = 4
[cluster]
candidate_pool_size = 2
"""
# gnt-node list fields that differ between any two clusters, by nature.
IGNORED = {
    "uuid": "made at random for each node",
    "group.uuid": "made at random for each cluster's default group",
    "ctime": "a time stamp",
    "mtime": "a time stamp",
    "serial_no": "counts changes: the linear way sets offline and back (two more)",
    "bootid": "the boot id each node's namespaces read",
    "master_candidate": "who fills the pool depends on job order: compared as counts",
    "role": "follows master_candidate: compared as counts",
    # Live figures of the host, read at the moment of the query:
    "mfree": "the host's free memory now", "mnode": "the host's memory used now",
    "dfree": "the host's free disk now", "spfree": "the host's free disk now",
    "dtotal": "the file system's size as df reads it now", "sptotal": "the same",
}
# The ancillary files RedistributeAncillaryFiles sends and the ssconf files.
ANCILLARY = ("known_hosts", "hmac.key", "cluster-domain-secret", "spice.pem", "spice-ca.pem",
             "rapi.pem", "server.pem", "rapi/users")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# ssconf keys naming the candidates (by name, certificate digest, address).
CANDIDATE_KEYS = ("ssconf_master_candidates", "ssconf_master_candidates_certs",
                  "ssconf_master_candidates_ips")


def node_files(cli: Cli, node: str) -> dict[str, str]:
    """Digest of each ssconf and ancillary file of ``node``, read from the host."""
    data = cli.dir / node / "var/lib/ganeti"
    paths = sorted(data.glob("ssconf_*")) + [data / name for name in ANCILLARY]
    return {str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in paths if p.exists()}


def unrandom(text: str, cli: Cli) -> str:
    """Without the UUIDs each cluster makes at random (ssconf_nodegroups) and
    the cluster's directory (the storage directories lie below it)."""
    return UUID.sub("UUID", text.replace(str(cli.dir), "DIR"))


def fields(cli: Cli) -> list[str]:
    listing = cli("run", "master", "gnt-node", "list-fields", "--no-headers").stdout
    return [line.split()[0] for line in listing.splitlines() if line.strip()]


def listing(cli: Cli, names: list[str]) -> dict[str, dict[str, str]]:
    out = cli("run", "master", "gnt-node", "list", "--no-headers", "--separator=|",
              "-o", ",".join(["name", *names])).stdout
    return {row[0]: dict(zip(names, row[1:])) for row in
            (line.split("|") for line in out.splitlines())}


@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    base = tmp_path_factory.mktemp("join")
    (base / "pool2.toml").write_text(CLUSTER_FILE)
    seq = Cli(base / "seq", "joins")
    lin = Cli(base / "lin", "joins")  # the same name: the same Ganeti cluster name
    seq("up", "-f", str(base / "pool2.toml"), "--node-adds", "sequential",
        "--watcher-interval", "0")
    lin("up", "-f", str(base / "pool2.toml"), "--no-init", "--watcher-interval", "0")
    blocker = lin.dir / "node4/var/lib/ganeti/server.pem"
    blocker.mkdir()
    lin.failed_join = lin("up", check=False)
    lin.after_failure = listing(lin, ["offline"])
    blocker.rmdir()
    lin.finished = lin("up", check=False)
    yield seq, lin
    for cli in (seq, lin):
        cli("destroy", "--yes", check=False)


def test_a_node_that_fails_to_join_is_named_and_the_rest_stay_whole(clusters):
    _, lin = clusters
    failed = lin.failed_join
    assert failed.returncode == 1, failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "node4" in errors[0], failed.stderr
    assert "Traceback" not in failed.stderr
    # node3 joined, went offline for the adds after it and came back
    assert lin.after_failure == {n: {"offline": "N"} for n in NODES[:3]}
    assert lin.finished.returncode == 0, lin.finished.stderr
    assert incomplete(lin, NODES) == []


def test_both_ways_give_the_same_nodes(clusters):
    seq, lin = clusters
    names = [f for f in fields(seq) if f not in IGNORED]
    assert fields(lin) == fields(seq)
    a, b = listing(seq, names), listing(lin, names)
    assert sorted(a) == sorted(b) == list(NODES)
    differing = {(node, f): (a[node][f], b[node][f]) for node in a for f in names
                 if a[node][f] != b[node][f]}
    assert differing == {}
    roles = [sorted(listing(c, ["role"])[n]["role"] for n in NODES) for c in (seq, lin)]
    assert roles[0] == roles[1] == ["C", "M", "R", "R"]


def test_every_node_has_its_masters_ssconf_and_ancillary_files(clusters):
    for cli in clusters:
        master = node_files(cli, "node1")
        assert len([k for k in master if k.startswith("ssconf_")]) > 20
        assert set(ANCILLARY) - {"spice.pem", "spice-ca.pem"} <= set(master)
        for node in NODES[1:]:
            assert node_files(cli, node) == master, node


def test_ssconf_is_the_same_in_both_clusters_but_for_the_candidates(clusters):
    seq, lin = clusters
    a, b = (cli.dir / "node1/var/lib/ganeti" for cli in clusters)
    names = sorted(p.name for p in a.glob("ssconf_*"))
    assert names == sorted(p.name for p in b.glob("ssconf_*"))
    differing = [n for n in names if n not in CANDIDATE_KEYS
                 and unrandom((a / n).read_text(), seq) != unrandom((b / n).read_text(), lin)]
    assert differing == [], {n: ((a / n).read_text(), (b / n).read_text()) for n in differing}
    for key in CANDIDATE_KEYS:
        assert len((a / key).read_text().split()) == len((b / key).read_text().split()) == 2


def test_verify_is_clean_but_for_the_missing_sysrq_trigger(clusters):
    for cli in clusters:
        result = cli("run", "master", "gnt-cluster", "verify", "--error-codes",
                     "--ignore-errors=ENODESETUP", check=False)
        errors = [line for line in result.stdout.splitlines() if "ERROR" in line
                  and "ENODESETUP" not in line]
        assert result.returncode == 0 and errors == [], result.stdout + result.stderr


def test_an_instance_is_added_on_failed_over_to_and_migrated_to_the_last_node(clusters):
    _, lin = clusters
    last = NODES[-1]

    def gnt(*argv):
        result = lin("run", "master", *argv, check=False)
        assert result.returncode == 0, f"{argv}: {result.stdout}{result.stderr}"

    def primary(name):
        return lin("run", "master", "gnt-instance", "list", "--no-headers", "-o", "pnode",
                   name).stdout.split()

    add = ("gnt-instance", "add", "-t", "diskless", "-o", "noop", "--no-name-check",
           "--no-ip-check", "-B", "memory=32")
    gnt(*add, "-n", last, "lastborn")
    assert primary("lastborn") == [last]
    gnt(*add, "-n", "node2", "wanderer")
    gnt("gnt-instance", "failover", "-f", "-n", last, "wanderer")
    assert primary("wanderer") == [last]
    gnt("gnt-instance", "migrate", "-f", "-n", "node2", "wanderer")
    gnt("gnt-instance", "migrate", "-f", "-n", last, "wanderer")
    assert primary("wanderer") == [last]
