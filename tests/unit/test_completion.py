"""Shell completion through click's completion API: node and daemon names."""

from __future__ import annotations

from click.shell_completion import ShellComplete

from vcluster_ns.cli import main
from vcluster_ns.cluster import VirtualCluster
from vcluster_ns.spec import ClusterSpec


def complete(args: list[str], incomplete: str) -> list[str]:
    completer = ShellComplete(main, {}, "vcluster-ns", "_VCLUSTER_NS_COMPLETE")
    return [c.value for c in completer.get_completions(args, incomplete)]


def make_cluster(root, name="c1", nodes=4):
    VirtualCluster(name, root).create(ClusterSpec(name=name, nodes=nodes))


def test_node_names_come_from_the_named_cluster(tmp_path):
    make_cluster(tmp_path, "c1", nodes=4)
    make_cluster(tmp_path, "c2", nodes=2)
    base = ["--root", str(tmp_path), "--cluster"]
    assert complete(base + ["c1", "run"], "node") == ["node1", "node2", "node3", "node4"]
    assert complete(base + ["c2", "run"], "node") == ["node1", "node2"]
    assert complete(base + ["c1", "shell"], "node3") == ["node3"]
    assert complete(base + ["c1", "node", "stop"], "") == ["node1", "node2", "node3", "node4"]


def test_no_cluster_means_no_node_names(tmp_path):
    assert complete(["--root", str(tmp_path), "run"], "") == []


def test_daemon_names(tmp_path):
    make_cluster(tmp_path, "default", nodes=1)
    base = ["--root", str(tmp_path)]
    assert complete(base + ["logs", "node1"], "no") == ["noded"]
    assert complete(base + ["kill", "node1"], "w") == ["wconfd"]
    assert "mond" in complete(base + ["logs", "node1"], "")


def test_master_is_offered_where_the_command_takes_it(tmp_path):
    # run and shell resolve 'master' (VirtualCluster.resolve_node); the
    # others take node names only.
    make_cluster(tmp_path, "default", nodes=2)
    base = ["--root", str(tmp_path)]
    for command in (["run"], ["shell"]):
        assert complete(base + command, "") == ["node1", "node2", "master"]
        assert complete(base + command, "m") == ["master"]
        assert complete(base + command, "node") == ["node1", "node2"]
    for command in (["logs"], ["kill"], ["node", "stop"], ["node", "restart"],
                    ["net", "partition"], ["net", "down"], ["net", "delay"]):
        assert complete(base + command, "") == ["node1", "node2"], command


def test_node_lists_do_not_offer_nodes_already_given(tmp_path):
    make_cluster(tmp_path, "c1", nodes=4)
    base = ["--root", str(tmp_path), "--cluster", "c1"]
    assert complete(base + ["net", "partition", "node1"], "") == ["node2", "node3", "node4"]
    assert complete(base + ["net", "down", "node1", "node3"], "node") == ["node2", "node4"]
    assert complete(base + ["net", "up", "node2"], "node2") == []


def test_full_names_given_count_as_given(tmp_path):
    VirtualCluster("d", tmp_path).create(ClusterSpec(name="d", nodes=3, domain="example.test"))
    base = ["--root", str(tmp_path), "--cluster", "d"]
    assert complete(base + ["net", "partition", "node1.example.test"], "") == ["node2", "node3"]
