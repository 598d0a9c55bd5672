"""ganeti/install.py: the installation model, on synthetic trees."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vcluster_ns.errors import InvalidInput
from vcluster_ns.ganeti import install
from vcluster_ns.mounts import Bind, Overlay, plan_cluster_mounts, plan_node_mounts
from vcluster_ns.layout import ClusterPaths
from vcluster_ns.spec import ClusterSpec

CONSTANTS = '''# generated
RELEASE_VERSION = "{release}"
VERSION_MAJOR = 3
DIR_VERSION = "{dir}"
'''


def fake_tree(root: Path, dir_version: str = "3.1", release: str = "3.1.0",
              drop: tuple[str, ...] = (), links: bool = True,
              options: str = '"--no-etc-hosts" "--master-netdev"') -> Path:
    """A tree with the files the model looks at (empty executables)."""
    lib = root / "usr/lib/ganeti" / dir_version
    share = root / "usr/share/ganeti" / dir_version
    files = [share / "ganeti/_constants.py", share / "ganeti/cli_opts.py",
             lib / "usr/lib/ganeti/daemon-util"]
    files += [share / name for name in ("ganeti-noded", "ganeti-rapi", "ganeti-watcher",
                                        "gnt-cluster", "gnt-node", "gnt-instance",
                                        "ensure-dirs", "node-daemon-setup")]
    files += [lib / "usr/sbin" / d for d in ("ganeti-confd", "ganeti-wconfd",
                                             "ganeti-luxid", "ganeti-mond")]
    for path in files:
        if path.name in drop:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/usr/bin/python3\n")
    (share / "ganeti/_constants.py").write_text(
        CONSTANTS.format(release=release, dir=dir_version))
    (share / "ganeti/cli_opts.py").write_text(options)
    if links:
        for link in install.PUBLIC_LINKS:
            path = root / link.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(path):
                path.symlink_to("/nowhere")
    return root


def test_version_is_read_from_the_tree_not_assumed(tmp_path):
    inst = install.from_tree(fake_tree(tmp_path / "t", "3.1", "3.1.0"))
    assert (inst.version, inst.dir_version) == ("3.1.0", "3.1")
    assert inst.lib_dir == tmp_path / "t/usr/lib/ganeti/3.1"
    assert inst.daemon_program("ganeti-noded") == tmp_path / "t/usr/share/ganeti/3.1/ganeti-noded"
    assert inst.daemon_program("ganeti-luxid") == \
        tmp_path / "t/usr/lib/ganeti/3.1/usr/sbin/ganeti-luxid"
    assert inst.as_json() == {"path": str(tmp_path / "t"), "version": "3.1.0"}


def test_a_relative_or_tilde_path_becomes_absolute(tmp_path, monkeypatch):
    fake_tree(tmp_path / "t")
    monkeypatch.chdir(tmp_path)
    assert install.from_tree("t").root == tmp_path / "t"


@pytest.mark.parametrize("make, words", [
    (lambda p: None, "no such directory"),
    (lambda p: p.mkdir(), "it has no usr/ directory"),
    (lambda p: (p / "usr/share/ganeti/foo").mkdir(parents=True), "layout not recognised"),
    (lambda p: fake_tree(p, drop=("ganeti-luxid",)), "lacks usr/lib/ganeti/3.1/usr/sbin/ganeti-luxid"),
    (lambda p: fake_tree(p, drop=("ganeti-noded", "gnt-node")), "and 1 more"),
])
def test_bad_trees_are_refused_in_one_line(tmp_path, make, words):
    tree = tmp_path / "t"
    make(tree)
    with pytest.raises(InvalidInput) as err:
        install.from_tree(tree)
    assert words in err.value.message
    assert "\n" not in err.value.one_line()
    assert err.value.exit_code == 2


def test_a_version_directory_whose_constants_disagree_is_not_recognised(tmp_path):
    tree = fake_tree(tmp_path / "t", "3.1", "3.1.0")
    (tree / "usr/share/ganeti/3.1").rename(tree / "usr/share/ganeti/3.2")
    (tree / "usr/lib/ganeti/3.1").rename(tree / "usr/lib/ganeti/3.2")
    with pytest.raises(InvalidInput, match="layout not recognised"):
        install.from_tree(tree)


def test_two_versions_need_the_trees_own_link_to_choose(tmp_path):
    tree = fake_tree(tmp_path / "t", "3.1", "3.1.0")
    fake_tree(tree, "3.2", "3.2.1")
    with pytest.raises(InvalidInput, match="holds several versions"):
        install.from_tree(tree)
    (tree / "etc/ganeti").mkdir(parents=True)
    (tree / "etc/ganeti/lib").symlink_to("/usr/lib/ganeti/3.2")
    assert install.from_tree(tree).version == "3.2.1"


def test_public_links_may_come_from_the_host(tmp_path, monkeypatch):
    tree = fake_tree(tmp_path / "t", links=False)
    monkeypatch.setattr(install.os.path, "lexists",
                        lambda p: not str(p).startswith("/usr") and os.path.islink(p))
    with pytest.raises(InvalidInput, match="lacks usr/sbin/ganeti-noded"):
        install.from_tree(tree)


def test_extra_trees_must_bring_another_version(tmp_path):
    a = install.from_tree(fake_tree(tmp_path / "a", "3.1", "3.1.0"))
    b = install.from_tree(fake_tree(tmp_path / "b", "3.1", "3.1.1"))
    c = install.from_tree(fake_tree(tmp_path / "c", "3.2", "3.2.0"))
    install.check_extras(a, [c])
    with pytest.raises(InvalidInput, match="the same version as Ganeti 3.1.0"):
        install.check_extras(a, [c, b])


def test_spec_fields_record_path_version_and_extras(tmp_path):
    fake_tree(tmp_path / "a", "3.1", "3.1.0")
    fake_tree(tmp_path / "b", "3.2", "3.2.0")
    fields = install.spec_fields(str(tmp_path / "a"), [str(tmp_path / "b")])
    assert fields == {"ganeti": str(tmp_path / "a"), "ganeti_version": "3.1.0",
                      "ganeti_extra": (str(tmp_path / "b"),)}
    spec = ClusterSpec(**fields)
    assert ClusterSpec.from_json(spec.to_json()) == spec
    assert install.usr_layers(spec) == [str(tmp_path / "a/usr"), str(tmp_path / "b/usr")]
    assert install.usr_layers(ClusterSpec()) == []


def test_a_relative_tree_in_a_spec_is_refused():
    with pytest.raises(InvalidInput) as err:
        ClusterSpec(ganeti="relative/tree")
    assert err.value.one_line() == "invalid Ganeti tree 'relative/tree' (give an absolute path)"


def test_accepts_reads_the_versions_own_options(tmp_path):
    inst = install.from_tree(fake_tree(tmp_path / "t"))
    assert inst.accepts("gnt-cluster", "--no-etc-hosts")
    assert not inst.accepts("gnt-instance", "--no-name-check")


def test_init_leaves_out_options_the_version_does_not_know(tmp_path):
    from vcluster_ns.ganeti.bootstrap import init_argv
    inst = install.from_tree(fake_tree(tmp_path / "t"))
    argv = init_argv(ClusterSpec(), inst)
    assert "--no-etc-hosts" in argv and "--master-netdev=eth0" in argv
    assert not any(a.startswith("--enabled-hypervisors") for a in argv)
    assert argv[:2] == ["gnt-cluster", "init"] and argv[-1] == "cluster"
    assert any(a.startswith("--enabled-hypervisors") for a in init_argv(ClusterSpec()))


def test_version_links_are_written_once_and_kept(tmp_path):
    a = install.from_tree(fake_tree(tmp_path / "a", "3.1", "3.1.0"))
    b = install.from_tree(fake_tree(tmp_path / "b", "3.2", "3.2.0"))
    etc = tmp_path / "etc"
    node = tmp_path / "node1"
    install.prepare_version_links(etc, [node], a)
    assert os.readlink(node / "etc/ganeti/lib") == "/usr/lib/ganeti/3.1"
    assert os.readlink(node / "etc/ganeti/share") == "/usr/share/ganeti/3.1"
    # gnt-cluster upgrade switched the node; the next start must keep that,
    # while the cluster-wide links follow the default installation.
    install.prepare_version_links(etc, [node], b)
    assert install.linked_version(node / "etc/ganeti") == "3.1"
    assert os.readlink(etc / "ganeti/lib") == "/usr/lib/ganeti/3.2"


def test_without_an_installation_only_the_directories_are_made(tmp_path):
    install.prepare_version_links(tmp_path / "etc", [tmp_path / "n1"], None)
    assert (tmp_path / "etc/ganeti").is_dir() and (tmp_path / "n1/etc/ganeti").is_dir()
    assert not os.path.lexists(tmp_path / "n1/etc/ganeti/lib")


def test_status_names_each_nodes_version(tmp_path):
    fake_tree(tmp_path, "3.1", "3.1.0")
    fake_tree(tmp_path / "b", "3.2", "3.2.0")
    spec = ClusterSpec(nodes=2, ganeti=str(tmp_path), ganeti_version="3.1.0",
                       ganeti_extra=(str(tmp_path / "b"),))
    roots = {"node1": tmp_path / "n1", "node2": tmp_path / "n2"}
    for root, version in ((roots["node1"], "3.2"), (roots["node2"], "3.1")):
        (root / "etc/ganeti").mkdir(parents=True)
        (root / "etc/ganeti/lib").symlink_to(f"/usr/lib/ganeti/{version}")
    info = install.status(spec, roots)
    assert info == {"path": str(tmp_path), "version": "3.1.0",
                    "extra": [{"path": str(tmp_path / "b"), "version": "3.2.0"}],
                    "node_versions": {"node1": "3.2", "node2": "3.1"},
                    "running": [{"version": "3.2.0", "path": str(tmp_path / "b")},
                                {"version": "3.1.0", "path": str(tmp_path)}]}


def test_status_header_shows_the_version_the_nodes_run_after_an_upgrade(tmp_path):
    """Every node switched to the extra tree's 3.2 (gnt-cluster upgrade):
    the header leads with 3.2.0, not the default tree's 3.1.0."""
    from click.testing import CliRunner

    from vcluster_ns.cli import _echo_ganeti
    fake_tree(tmp_path, "3.1", "3.1.0")
    fake_tree(tmp_path / "b", "3.2", "3.2.0")
    spec = ClusterSpec(nodes=2, ganeti=str(tmp_path), ganeti_version="3.1.0",
                       ganeti_extra=(str(tmp_path / "b"),))
    roots = {"node1": tmp_path / "n1", "node2": tmp_path / "n2"}
    for root in roots.values():
        (root / "etc/ganeti").mkdir(parents=True)
        (root / "etc/ganeti/lib").symlink_to("/usr/lib/ganeti/3.2")
    info = install.status(spec, roots)
    assert info["running"] == [{"version": "3.2.0", "path": str(tmp_path / "b")}]
    import click

    @click.command()
    def show():
        _echo_ganeti(info)
    out = CliRunner().invoke(show).output
    assert out == f"ganeti 3.2.0 ({tmp_path / 'b'}), also 3.1.0 ({tmp_path})\n"
    (roots["node2"] / "etc/ganeti/lib").unlink()
    (roots["node2"] / "etc/ganeti/lib").symlink_to("/usr/lib/ganeti/3.1")
    half = install.status(spec, roots)

    @click.command()
    def show_half():
        _echo_ganeti(half)
    out = CliRunner().invoke(show_half).output
    assert out.startswith(f"ganeti 3.1.0 ({tmp_path}), also 3.2.0 ({tmp_path / 'b'}); "
                          "nodes on node1 3.2, node2 3.1")


def test_the_tree_is_laid_over_usr_before_the_shims(tmp_path):
    paths = ClusterPaths(tmp_path / "c")
    ops = plan_cluster_mounts(paths, ["/usr/sbin/reboot"], sysrq=False,
                              usr_layers=["/t/a/usr", "/t/b/usr"])
    overlays = [op for op in ops if isinstance(op, Overlay)]
    assert overlays[0] == Overlay("/usr", lower=("/t/a/usr", "/t/b/usr", "/usr"))
    assert overlays[-1].target == os.path.realpath("/usr/sbin")
    plain = plan_cluster_mounts(paths, ["/usr/sbin/reboot"], sysrq=False)
    assert not any(op.target == "/usr" for op in plain if isinstance(op, Overlay))


def test_each_node_binds_its_own_etc_ganeti(tmp_path):
    paths = ClusterPaths(tmp_path / "c")
    binds = install.node_binds(paths.node_root("node2"))
    ops = plan_node_mounts(paths, "node2", binds=binds)
    assert Bind(str(paths.node_root("node2") / "etc/ganeti"), "/etc/ganeti") in ops


def test_system_installation_is_the_linked_version():
    if not os.path.isdir("/usr/share/ganeti"):
        pytest.skip("Ganeti is not installed")
    inst = install.system()
    assert inst.is_system and inst.share_dir.is_dir()
    assert inst.version.startswith(inst.dir_version)


# -- the CLI: bad trees get one line, exit 2 (up) or 4 (doctor), nothing made --
def cli(tmp_path, *args):
    from click.testing import CliRunner
    from vcluster_ns.cli import main
    return CliRunner().invoke(main, ["--root", str(tmp_path / "root"), *args])


@pytest.mark.parametrize("tree_args", [
    lambda t: ["--ganeti", str(t / "missing")],
    lambda t: ["--ganeti", str(fake_tree(t / "a", drop=("ganeti-wconfd",)))],
    lambda t: ["--ganeti", str(fake_tree(t / "a")), "--ganeti-extra", str(fake_tree(t / "b"))],
    lambda t: ["--ganeti-extra", str(t)],
])
def test_up_with_a_bad_tree_creates_nothing(tmp_path, tree_args):
    result = cli(tmp_path, "up", *tree_args(tmp_path))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("Error: --ganeti")
    assert not (tmp_path / "root").exists()


def test_doctor_names_what_a_tree_lacks(tmp_path):
    tree = fake_tree(tmp_path / "t", drop=("ganeti-luxid",))
    result = cli(tmp_path, "doctor", "--ganeti", str(tree), "--json")
    assert result.exit_code == 4
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["ganeti programs"]["status"] == "fail"
    assert "usr/lib/ganeti/3.1/usr/sbin/ganeti-luxid" in checks["ganeti programs"]["detail"]
    assert "ganeti" not in checks  # the tree's checks replace the system's


def test_node_add_and_instance_add_follow_the_version(tmp_path):
    from vcluster_ns.ganeti.join import node_add_argv
    inst = install.from_tree(fake_tree(tmp_path / "t", options='"--no-ssh-key-check"'))
    assert node_add_argv(ClusterSpec(), "node2", inst) == \
        ["gnt-node", "add", "--no-ssh-key-check", "node2"]
    assert inst.instance_add_no_checks() == []  # as 3.1: the options are gone
    old = install.from_tree(fake_tree(tmp_path / "o", options='"--no-name-check" "--no-ip-check"'))
    assert old.instance_add_no_checks() == ["--no-name-check", "--no-ip-check"]
    assert node_add_argv(ClusterSpec(), "node2", old) == ["gnt-node", "add", "node2"]


def test_snapshots_carry_the_installation():
    from vcluster_ns.snapshot import restored_spec
    saved = ClusterSpec(name="orig", ganeti="/t/a", ganeti_version="3.1.0",
                        ganeti_extra=("/t/b",))
    restored = restored_spec(saved, "copy", None, set())
    assert (restored.ganeti, restored.ganeti_version, restored.ganeti_extra) == \
        ("/t/a", "3.1.0", ("/t/b",))
    with pytest.raises(InvalidInput, match="the snapshot's cluster has ganeti '/t/a'"):
        restored_spec(saved, "copy", ClusterSpec(ganeti="/t/c"), {"ganeti"})


def test_host_os_definitions_are_linked_into_the_cluster(tmp_path):
    host = tmp_path / "host-os"
    (host / "noop").mkdir(parents=True)
    (host / "README").write_text("not an OS")
    cluster_os = tmp_path / "srv/ganeti/os"
    (cluster_os / "dummy").mkdir(parents=True)
    (host / "dummy").mkdir()
    source_build = install.from_tree(fake_tree(tmp_path / "t"))
    (source_build.python_package / "_constants.py").write_text(
        CONSTANTS.format(release="3.1.0", dir="3.1") + 'OS_SEARCH_PATH = ["/srv/ganeti/os"]\n')
    assert source_build.os_search_path() == ["/srv/ganeti/os"]
    assert install.link_host_os_definitions(cluster_os, source_build,
                                            [str(host), "/nonexistent"]) == ["noop"]
    assert os.readlink(cluster_os / "noop") == str(host / "noop")
    assert not (cluster_os / "dummy").is_symlink()  # the cluster's own stays
    assert install.link_host_os_definitions(cluster_os, source_build, [str(host)]) == []


def test_os_definitions_the_installation_finds_itself_are_not_linked(tmp_path):
    """Ganeti's verify calls an OS found twice an error."""
    host = tmp_path / "host-os"
    (host / "noop").mkdir(parents=True)
    debian = install.from_tree(fake_tree(tmp_path / "t"))
    (debian.python_package / "_constants.py").write_text(
        CONSTANTS.format(release="3.1.0", dir="3.1")
        + f'OS_SEARCH_PATH = ["/srv/ganeti/os","{host}"]\n')
    cluster_os = tmp_path / "srv/ganeti/os"
    assert install.link_host_os_definitions(cluster_os, debian, [str(host)]) == []
    assert install.link_host_os_definitions(cluster_os, None, [str(host)]) == []
    assert not os.path.lexists(cluster_os / "noop")


def test_a_deprecated_option_that_only_warns_is_not_accepted(tmp_path):
    options = ('NOIPCHECK_OPT = cli_option("--no-ip-check",\n'
               '    action="callback", callback=WarnDeprecatedOption, help="x")\n'
               'NAMECHECK_OPT = cli_option("--name-check", dest="name_check")\n'
               'NONAMECHECK_OPT = cli_option("--no-name-check", dest="name_check",\n'
               '    action="store_false")\n')
    inst = install.from_tree(fake_tree(tmp_path / "t", options=options))
    assert inst.instance_add_no_checks() == ["--no-name-check"]
    assert inst.accepts("gnt-instance", "--name-check")


def test_qa_of_a_tree_without_its_qa_suite_names_the_option(tmp_path):
    result = cli(tmp_path, "qa", "--ganeti", str(fake_tree(tmp_path / "t")), "--list")
    assert result.exit_code == 2
    assert "has no QA suite" in result.output and "--qa-dir CHECKOUT/qa" in result.output
    assert not (tmp_path / "root").exists()
