"""The cluster file: parsing, resolution of per-node settings, refusals, dump."""

import tomllib
from pathlib import Path

import pytest

from vcluster_ns import clusterfile
from vcluster_ns.errors import ExitCode, InvalidInput
from vcluster_ns.ganeti import bootstrap, join
from vcluster_ns.spec import ClusterSpec

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "docs" / "examples").glob("*.toml"))


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return path


def test_there_are_examples():
    assert any(p.name == "heterogeneous.toml" for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_loads_and_dumps_to_itself(path, tmp_path):
    spec = clusterfile.spec_from_file(path, "x", {})
    again = clusterfile.spec_from_file(write(tmp_path, clusterfile.dump(spec)), "x", {})
    assert again == spec
    assert ClusterSpec.from_json(spec.to_json()) == spec


def test_heterogeneous_example_has_the_issue_sizes():
    spec = clusterfile.spec_from_file(
        [p for p in EXAMPLES if p.name == "heterogeneous.toml"][0], "x", {})
    assert [spec.settings_of(n)["memory"] for n in spec.node_names] == [2048, 4096, 8192, 16384]
    assert len({spec.settings_of(n)["cpus"] for n in spec.node_names}) == 4


def test_settings_resolve_defaults_then_group_then_node(tmp_path):
    spec = clusterfile.spec_from_file(write(tmp_path, """
node_count = 4
[defaults]
memory = "1G"
cpus = 2
[groups.rack2]
nodes = ["node3"]
memory = "4G"
[nodes.node3]
cpus = 8
[nodes.node4]
group = "rack2"
drained = true
"""), "x", {})
    assert spec.groups == ("rack2",)
    assert spec.settings_of("node1") == {"memory": 1024, "cpus": 2}
    assert spec.settings_of("node3") == {"memory": 4096, "cpus": 8, "group": "rack2"}
    assert spec.settings_of("node4") == {"memory": 4096, "cpus": 2, "group": "rack2",
                                         "drained": True}


def test_command_line_overrides_the_file(tmp_path):
    path = write(tmp_path, 'node_count = 2\nnetwork = "10.9.0.0/24"\n')
    spec = clusterfile.spec_from_file(path, "x", {"network": "10.8.0.0/24"})
    assert (spec.nodes, spec.network) == (2, "10.8.0.0/24")


def test_node_count_defaults_to_the_highest_node_named(tmp_path):
    spec = clusterfile.spec_from_file(write(tmp_path, "[nodes.node5]\ncpus = 2\n"), "x", {})
    assert spec.nodes == 5


def test_seeded_instances_reserve_names(tmp_path):
    spec = clusterfile.spec_from_file(write(tmp_path, "[instances]\ncount = 50\n"), "x", {})
    assert spec.instances == 50 and spec.seed == {"count": 50}


BAD = [
    ("colour = 1\n", "colour: unknown key"),
    ("[nodes.node1]\nmemroy = \"1G\"\n", "nodes.node1.memroy: unknown key"),
    ("node_count = \"four\"\n", "node_count: 'four' is not a whole number"),
    ("[nodes.node2]\ncpus = 1.5\n", "nodes.node2.cpus: 1.5 is not"),
    ("[nodes.node2]\nmemory = \"-1G\"\n", "nodes.node2.memory: '-1G' is not a size"),
    ("[nodes.node2]\nmemory = \"0\"\n", "nodes.node2.memory: '0' is not a positive size"),
    ("[defaults]\nmemory_reserved = \"lots\"\n", "defaults.memory_reserved: 'lots' is not a size"),
    ("[defaults]\ndisk = \"-100G\"\n", "defaults.disk: '-100G' is not a size"),
    ("[defaults]\nmemory = 0\n", "defaults.memory: 0 is not a positive size"),
    ("[nodes.node2]\ngroup = \"rack9\"\n", "nodes.node2.group: group 'rack9' does not exist"),
    ("[groups.a]\nnodes = [\"node2\"]\n[groups.b]\nnodes = [\"node2\"]\n",
     "groups.b.nodes: node 'node2' is in group 'a' already"),
    ("[nodes.node1]\ncpus = 1\n[nodes.\"node1.example.test\"]\ncpus = 2\n",
     "names the same node as"),
    ("[nodes.node1]\ncpus = 1\n[nodes.node1]\ncpus = 2\n", "not valid TOML"),
    ("[nodes.server]\ncpus = 1\n", "nodes.server: 'server' is not a node name"),
    ("node_count = 2\n[nodes.node3]\ncpus = 1\n", "nodes.node3: node3 is beyond the 2 nodes"),
    ("[defaults]\nmemory_reserved = \"1G\"\n", "nodes.node1.memory_reserved: needs"),
    ("[nodes.node2]\nmemory = \"1G\"\nmemory_reserved = \"1G\"\n",
     "nodes.node2.memory_reserved: must be below"),
    ("[nodes.node1]\noffline = true\n", "nodes.node1.offline: the first node"),
    ("[groups.default]\n", "groups.default: Ganeti's default group"),
    ("[instances]\ncount = 5\ntemplate = \"drbd\"\n", "instances.template: 'drbd'"),
    ("[instances]\ncount = 5\ntemplate = \"file\"\n", "instances.disk: file instances"),
    ("[cluster]\ncandidate_pool_size = true\n", "cluster.candidate_pool_size: True"),
    ("[cluster.ipolicy]\nvcpu = 2\n", "cluster.ipolicy.vcpu: unknown key"),
    ("mode = \"bridged\"\n", "mode: 'bridged' is not a network mode"),
    ("nodes = 3\n", "nodes: must be a table"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m for _, m in BAD])
def test_bad_files_name_the_file_and_key(tmp_path, text, message):
    with pytest.raises(InvalidInput) as info:
        clusterfile.spec_from_file(write(tmp_path, text), "x", {})
    assert info.value.message.startswith("cluster.toml: ")
    assert message in info.value.message
    assert info.value.exit_code == ExitCode.USAGE


def test_unreadable_file(tmp_path):
    with pytest.raises(InvalidInput, match="cannot read cluster file"):
        clusterfile.load(tmp_path / "absent.toml")


def up_with_file(tmp_path, text: str):
    """``up -f`` of a file holding ``text``: exit 2 expected, nothing made."""
    from click.testing import CliRunner
    from vcluster_ns.cli import main
    path = write(tmp_path, text)
    root = tmp_path / "root"
    result = CliRunner().invoke(main, ["--root", str(root), "up", "-f", str(path)])
    assert result.exit_code == 2, result.output
    assert not root.exists()
    return result


def test_bad_file_on_the_command_line_creates_nothing(tmp_path):
    result = up_with_file(tmp_path, "[nodes.node2]\nmemory = \"16Q\"\n")
    assert "cluster.toml: nodes.node2.memory: '16Q' is not a size" in result.output
    assert "Traceback" not in result.output


def test_dump_config_prints_the_effective_file(tmp_path):
    from click.testing import CliRunner
    from vcluster_ns.cli import main
    path = write(tmp_path, "[defaults]\nmemory = \"2048M\"\n")
    result = CliRunner().invoke(main, ["--root", str(tmp_path / "r"), "up", "-f", str(path),
                                       "--nodes", "2", "--dump-config"])
    assert result.exit_code == 0, result.output
    data = tomllib.loads(result.output)
    assert data["node_count"] == 2
    assert data["nodes"]["node2"]["memory"] == "2G"
    assert not (tmp_path / "r").exists()


# -- what Ganeti is asked -------------------------------------------------------

def test_init_parameters_become_options():
    spec = ClusterSpec(init_params={"enabled_disk_templates": ["diskless", "sharedfile"],
                                    "candidate_pool_size": 3,
                                    "ipolicy": {"vcpu_ratio": 2.0}})
    argv = bootstrap.init_argv(spec)
    assert "--enabled-disk-templates=diskless,sharedfile" in argv
    assert "--shared-file-storage-dir=/srv/ganeti/shared-file-storage" in argv
    assert "--candidate-pool-size=3" in argv
    assert "--ipolicy-vcpu-ratio=2.0" in argv
    assert f"--ipolicy-bounds-specs={bootstrap.IPOLICY_BOUNDS}" in argv


def test_groups_and_roles_become_commands():
    spec = ClusterSpec(nodes=3, groups=("rack2",), node_settings={
        "node1": {"group": "rack2"},
        "node2": {"group": "rack2", "master_capable": False},
        "node3": {"drained": True, "offline": True}})
    assert join.node_add_argv(spec, "node2")[-4:] == [
        "-g", "rack2", "--master-capable=no", "node2"]
    assert join.node_add_argv(spec, "node3")[-3:] == ["-g", "default", "node3"]
    assert "-g" not in join.node_add_argv(ClusterSpec(), "node3")
    assert bootstrap.node_role_argvs(spec, "node3") == [
        ["gnt-node", "modify", "--force", "--drained=yes", "node3"],
        ["gnt-node", "modify", "--force", "--offline=yes", "node3"]]
    assert bootstrap.group_add_argvs(spec, {"default"}) == [
        ["gnt-group", "add", "rack2"],
        ["gnt-group", "assign-nodes", "--force", "rack2", "node1"]]
    assert bootstrap.group_add_argvs(spec, {"default", "rack2"}) == []


def test_spec_refuses_an_undeclared_group():
    with pytest.raises(InvalidInput, match="does not exist"):
        ClusterSpec(nodes=2, node_settings={"node2": {"group": "nope"}})


def test_a_bad_ganeti_tree_in_the_file_names_the_file(tmp_path):
    result = up_with_file(tmp_path, 'ganeti = "/nonexistent-tree"\n')
    assert "cluster.toml: --ganeti /nonexistent-tree: no such directory" in result.output


def test_nodes_option_below_the_files_node_count_says_it_overrides(tmp_path):
    # The file sets node_count = 4; raising node_count would not help.
    heterogeneous = [p for p in EXAMPLES if p.name == "heterogeneous.toml"][0]
    from click.testing import CliRunner
    from vcluster_ns.cli import main
    root = tmp_path / "root"
    result = CliRunner().invoke(main, ["--root", str(root), "up", "-f", str(heterogeneous),
                                       "--nodes", "3"])
    assert result.exit_code == 2, result.output
    assert not root.exists()
    assert result.stderr.strip() == (
        "Error: heterogeneous.toml: nodes.node4: node4 is beyond the 3 nodes of this "
        "cluster (--nodes 3 overrides the file's node_count = 4: give --nodes 4 or more, "
        "or leave --nodes out)")
    assert "raise node_count" not in result.stderr


@pytest.mark.parametrize("text, overrides, hint", [
    ("node_count = 2\n[nodes.node3]\ncpus = 1\n[nodes.node5]\ncpus = 1\n", {},
     "raise node_count to at least 5"),
    ("[nodes.node3]\ncpus = 1\n[nodes.node5]\ncpus = 1\n", {"nodes": 2},
     "--nodes 2 overrides the file's node_count: give --nodes 5 or more, "
     "or leave --nodes out"),
    ("node_count = 4\n[nodes.node5]\ncpus = 1\n", {"nodes": 3},
     "--nodes 3 overrides the file's node_count = 4: give --nodes 5 or more"),
])
def test_nodes_beyond_the_count_name_where_the_count_came_from(tmp_path, text, overrides,
                                                               hint):
    with pytest.raises(InvalidInput) as info:
        clusterfile.load(write(tmp_path, text), overrides)
    assert info.value.message.endswith("nodes of this cluster")
    assert info.value.hint == hint
