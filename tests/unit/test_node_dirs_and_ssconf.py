"""Pure parts of a big cluster's boot and join: which nodes share one
directory batch (ganeti/dirs.py), what a batch reports, and which nodes'
ssconf files lag behind the master's (ganeti/ssconf.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from vcluster_ns.ganeti import dirs, ssconf
from vcluster_ns.ganeti.install import write_version_links, ETC_GANETI


class FakeInstallation:
    def __init__(self, dir_version: str):
        self.dir_version = dir_version


def node_root(tmp_path: Path, name: str, version: str | None) -> Path:
    root = tmp_path / name
    root.mkdir()
    if version:
        write_version_links(root / ETC_GANETI.lstrip("/"), FakeInstallation(version))
    return root


def test_nodes_are_batched_by_the_ganeti_their_links_select(tmp_path):
    roots = {"node1": node_root(tmp_path, "node1", "3.0"),
             "node2": node_root(tmp_path, "node2", "3.1"),
             "node3": node_root(tmp_path, "node3", "3.0"),
             "node4": node_root(tmp_path, "node4", None)}
    assert dirs.batches(roots) == [["node1", "node3"], ["node2"], ["node4"]]


def test_only_the_roots_a_batch_reports_done_count():
    output = "\n".join([json.dumps({"done": "/c/node1"}), "Traceback (most recent call last):",
                        json.dumps({"unbatched": "x"}), json.dumps({"done": "/c/node2"}), "{bad"])
    assert dirs.done_roots(output) == {"/c/node1", "/c/node2"}


def test_the_batch_moves_every_path_to_each_root_and_refuses_a_path_outside(tmp_path):
    """BATCH_SCRIPT against a stand-in for ganeti.tools.ensure_dirs that
    records what ProcessPath was given."""
    package = tmp_path / "py/ganeti/tools"
    package.mkdir(parents=True)
    (tmp_path / "py/ganeti/__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    seen = tmp_path / "seen"
    (package / "ensure_dirs.py").write_text(
        "import os\n"
        "def GetPaths():\n"
        "    own = os.environ['GANETI_ROOTDIR']\n"
        "    return [(own + '/var/lib/ganeti', 'dir', 0o755, 0, 0),\n"
        "            (own + os.environ.get('EXTRA', '/var/log/ganeti/x.log'),"
        " 'file', 0o600, 0, 0, False)]\n"
        f"def ProcessPath(path):\n"
        f"    open({str(seen)!r}, 'a').write(repr(path) + '\\n')\n")
    script = dirs.batch_argv([tmp_path / "n1", tmp_path / "n2"])[2].replace(
        dirs.GANETI_PYTHON_DIR, str(tmp_path / "py"))
    roots = json.dumps([str(tmp_path / "n1"), str(tmp_path / "n2")])
    env = {"GANETI_ROOTDIR": str(tmp_path / "n1"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script, roots], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert dirs.done_roots(out) == {str(tmp_path / "n1"), str(tmp_path / "n2")}
    lines = seen.read_text().splitlines()
    assert lines == [repr((str(tmp_path / n) + p, *rest)) for n in ("n1", "n2")
                     for p, rest in (("/var/lib/ganeti", ("dir", 0o755, 0, 0)),
                                     ("/var/log/ganeti/x.log", ("file", 0o600, 0, 0, False)))]
    seen.unlink()
    env["GANETI_ROOTDIR"] = str(tmp_path / "n1/")  # a path outside: /n1 + /../elsewhere
    env["EXTRA"] = "x/../../elsewhere"
    result = subprocess.run([sys.executable, "-c", script, roots], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 3 and "unbatched" in result.stdout
    assert not seen.exists()


def write_ssconf(root: Path, **keys: str) -> None:
    data = ssconf.data_dir(root)
    data.mkdir(parents=True, exist_ok=True)
    for key, value in keys.items():
        (data / f"ssconf_{key}").write_text(value)


def test_nodes_behind_are_the_online_members_whose_files_differ(tmp_path):
    common = {"node_list": "node1\nnode2\nnode3\nnode4\n", "offline_nodes": "node4\n",
              "master_node": "node1\n"}
    roots = {n: tmp_path / n for n in ("node1", "node2", "node3", "node4", "node5")}
    write_ssconf(roots["node1"], **common)
    write_ssconf(roots["node2"], **common)
    write_ssconf(roots["node3"], **{**common, "offline_nodes": "\n"})  # missed the last push
    write_ssconf(roots["node4"], master_node="node1\n")  # offline: gets no pushes
    roots["node5"].mkdir()  # not a member
    # a push in progress on node2: its temporary file is not node2's yet
    (ssconf.data_dir(roots["node2"]) / "ssconf_master_nodeab12.new").write_text("x")
    assert ssconf.behind(roots, "node1") == ["node3"]
    write_ssconf(roots["node3"], **common)
    assert ssconf.behind(roots, "node1") == []
    assert ssconf.behind(roots, "elsewhere") == []


class RedistConf:
    """Commands on the master: ``gnt-cluster redist-conf`` brings the nodes
    in ``fixes`` up to the master's ssconf."""

    def __init__(self, roots, fixes=()):
        self.roots, self.fixes, self.ran = roots, list(fixes), []

    def run(self, node, *argv, timeout=None):
        self.ran.append((node, *argv))
        for name in self.fixes:
            write_ssconf(self.roots[name], **{
                p.name.removeprefix("ssconf_"): p.read_text()
                for p in ssconf.data_dir(self.roots["node1"]).glob("ssconf_*")})
        return subprocess.CompletedProcess(argv, 0, "", "")


def settle(tmp_path, monkeypatch, fixes):
    from types import SimpleNamespace
    from vcluster_ns.ganeti import bootstrap
    from vcluster_ns.spec import ClusterSpec
    monkeypatch.setattr(bootstrap, "SSCONF_SETTLE_TIMEOUT", 0.5)
    spec = ClusterSpec(name="c", nodes=3)
    roots = {n: tmp_path / n for n in spec.node_names}
    common = {"node_list": "node1\nnode2\nnode3\n", "master_node": "node1\n"}
    write_ssconf(roots["node1"], **common)
    write_ssconf(roots["node2"], **common)
    write_ssconf(roots["node3"], **{**common, "node_list": "node1\nnode3\n"})  # missed a push
    commands, said = RedistConf(roots, fixes), []
    boot = bootstrap.Bootstrap(commands, SimpleNamespace(node_root=roots.get), None,
                               steps=None, start_nodes=None, stop_node=None,
                               command=lambda *a: "vcluster-ns " + " ".join(a),
                               progress=said.append)
    boot.settle_ssconf("node1", spec)
    return commands.ran, said


def test_a_node_a_push_missed_gets_redist_conf_once(tmp_path, monkeypatch):
    ran, said = settle(tmp_path, monkeypatch, fixes=["node3"])
    assert ran == [("node1", "gnt-cluster", "redist-conf")]
    assert said == ["ssconf of 1 node(s) differs from the master's: gnt-cluster redist-conf"]


def test_a_node_still_behind_after_redist_conf_is_named(tmp_path, monkeypatch):
    ran, said = settle(tmp_path, monkeypatch, fixes=[])
    assert ran == [("node1", "gnt-cluster", "redist-conf")]
    assert said[-1].startswith("warning: ssconf of 1 node(s) still differs from the "
                               "master's (node3); 'vcluster-ns run node1 gnt-cluster "
                               "redist-conf' pushes it again")
