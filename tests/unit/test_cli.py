"""cli.py through click's CliRunner: help, exit codes, one-line errors."""

import json

import pytest
from click.testing import CliRunner

from vcluster_ns.cli import main
from vcluster_ns.spec import ClusterSpec


@pytest.fixture
def invoke(monkeypatch):
    monkeypatch.delenv("VCLUSTER_NS_ROOT", raising=False)
    monkeypatch.delenv("VCLUSTER_NS_CLUSTER", raising=False)

    def run(*args):
        return CliRunner().invoke(main, list(args))
    return run


def assert_one_line_error(result, code):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize("args,words", [
    ([], ["up", "run", "shell", "status", "logs", "down", "destroy", "node", "kill",
          "Exit codes"]),
    (["up"], ["--nodes", "--network", "--domain", "--instances", "--no-init"]),
    (["run"], ["NODE", "COMMAND"]),
    (["shell"], ["NODE", "-c"]),
    (["status"], ["--json"]),
    (["logs"], ["NODE", "--follow", "--lines"]),
    (["down"], ["Stop"]),
    (["destroy"], ["--yes"]),
    (["node"], ["stop", "start", "restart", "powercycle"]),
    (["node", "stop"], ["NAME"]),
    (["node", "start"], ["NAME"]),
    (["node", "restart"], ["NAME"]),
    (["kill"], ["NAME", "DAEMON"]),
])
def test_help(invoke, args, words):
    for flag in ("--help", "-h"):
        result = invoke(*args, flag)
        assert result.exit_code == 0, result.output
        assert "Usage:" in result.output
        for word in words:
            assert word in result.output, (args, word)


def test_up_with_zero_nodes(invoke, tmp_path):
    root = tmp_path / "root"
    line = assert_one_line_error(invoke("--root", str(root), "up", "--nodes", "0"), 2)
    assert "node count" in line
    assert not root.exists()
    tmp_path.joinpath("existing").mkdir()
    invoke("--root", str(tmp_path / "existing"), "up", "--nodes", "0")
    assert list((tmp_path / "existing").iterdir()) == []


def test_up_with_too_small_network(invoke, tmp_path):
    line = assert_one_line_error(
        invoke("--root", str(tmp_path), "up", "--nodes", "300"), 2)
    assert "198.18.0.0/16" in line
    assert list(tmp_path.iterdir()) == []


def test_bad_cluster_name(invoke, tmp_path):
    line = assert_one_line_error(
        invoke("--root", str(tmp_path), "--cluster", "Bad/Name", "status"), 2)
    assert "Bad/Name" in line
    assert list(tmp_path.iterdir()) == []


def test_status_of_missing_cluster(invoke, tmp_path):
    line = assert_one_line_error(invoke("--root", str(tmp_path), "status"), 5)
    assert "no cluster named 'default'" in line


def test_relative_root(invoke):
    line = assert_one_line_error(invoke("--root", "relative/path", "status"), 2)
    assert "relative" in line


def test_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VCLUSTER_NS_ROOT", "relative/env")
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 2


def test_run_without_command(invoke, tmp_path):
    result = invoke("--root", str(tmp_path), "run", "node1")
    assert result.exit_code == 2
    assert "Missing argument" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["reboot"], ["gnt-node", "powercycle", "node2"],
                                     ["bash", "-c", "echo x; poweroff"]])
def test_run_refused_before_cluster_lookup(invoke, tmp_path, command):
    # No cluster exists: a refusal (3), not "no such cluster" (5), proves the
    # policy is checked first.
    line = assert_one_line_error(invoke("--root", str(tmp_path), "run", "node1", *command), 3)
    assert "refused" in line
    assert list(tmp_path.iterdir()) == []


def test_run_harmless_command_reaches_cluster_lookup(invoke, tmp_path):
    assert_one_line_error(invoke("--root", str(tmp_path), "run", "node1", "echo", "reboot"), 5)


def test_run_double_dash_is_refused(invoke, tmp_path):
    result = invoke("--root", str(tmp_path), "run", "node1", "--", "reboot")
    assert result.exit_code == 3


@pytest.fixture
def down_cluster(tmp_path):
    """A cluster that exists on disk but is not up (only its spec file)."""
    spec = ClusterSpec(name="default", nodes=2)
    (tmp_path / "default").mkdir()
    spec.save(tmp_path / "default" / "cluster.json")
    return tmp_path


def test_status_of_down_cluster(invoke, down_cluster):
    result = invoke("--root", str(down_cluster), "status")
    assert result.exit_code == 0, result.output
    assert "cluster default: down" in result.output
    result = invoke("--root", str(down_cluster), "status", "--json")
    info = json.loads(result.output)
    assert info["state"] == "down"
    assert [(n["name"], n["address"], n["group"]) for n in info["nodes"]] == [
        ("node1", "192.0.2.10", "default"), ("node2", "192.0.2.11", "default")]


def test_up_with_conflicting_spec(invoke, down_cluster):
    line = assert_one_line_error(
        invoke("--root", str(down_cluster), "up", "--nodes", "5", "--no-init"), 2)
    assert "already exists with --nodes 2, not 5" in line


@pytest.mark.parametrize("args", [["node", "stop", "node1"], ["kill", "node1", "noded"],
                                  ["node", "restart", "node2"]])
def test_commands_needing_a_running_cluster(invoke, down_cluster, args):
    line = assert_one_line_error(invoke("--root", str(down_cluster), *args), 5)
    assert "not up" in line


def test_unknown_node(invoke, down_cluster):
    line = assert_one_line_error(invoke("--root", str(down_cluster), "logs", "node9"), 2)
    assert "unknown node 'node9'" in line


def test_down_of_down_cluster(invoke, down_cluster):
    result = invoke("--root", str(down_cluster), "down")
    assert result.exit_code == 0
    assert "was not up" in result.output


def test_corrupted_spec_is_failure(invoke, down_cluster):
    (down_cluster / "default" / "cluster.json").write_text("{broken")
    line = assert_one_line_error(invoke("--root", str(down_cluster), "status"), 1)
    assert "corrupted" in line


def test_destroy_down_cluster(invoke, down_cluster):
    result = invoke("--root", str(down_cluster), "destroy", "--yes")
    assert result.exit_code == 0, result.output
    assert not (down_cluster / "default").exists()
    assert_one_line_error(invoke("--root", str(down_cluster), "destroy", "--yes"), 5)


@pytest.fixture
def fake_qa(tmp_path):
    """A QA directory as in a built source tree: qa/ganeti-qa.py next to ganeti/."""
    (tmp_path / "qa").mkdir()
    (tmp_path / "ganeti").mkdir()
    (tmp_path / "qa/ganeti-qa.py").write_text(
        'RunTestIf("cluster-verify", qa_cluster.TestClusterVerify)\n'
        'RunTestIf("node-volumes", qa_node.TestNodeVolumes)\n')
    return tmp_path / "qa"


def test_qa_list_names_tests_and_builtin_skips(invoke, fake_qa):
    result = invoke("qa", "--qa-dir", str(fake_qa), "--list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "cluster-verify" in lines
    assert any(line.startswith("node-volumes  (skipped: LVM") and
               line.endswith("[holds on every Ganeti version])") for line in lines)


def test_qa_list_says_where_a_ranged_skip_does_not_hold(invoke, fake_qa, monkeypatch):
    from vcluster_ns import cli_qa
    from vcluster_ns.ganeti.qa import skips
    from vcluster_ns.ganeti.versions import VersionRange

    monkeypatch.setitem(skips.SKIPS, "cluster-verify",
                        skips.Skip("fixed in 3.1", VersionRange(before="3.1.0")))
    monkeypatch.setattr(cli_qa, "_system_ganeti_version", lambda: "3.1.1")
    result = invoke("qa", "--qa-dir", str(fake_qa), "--list")
    assert result.exit_code == 0, result.output
    assert "cluster-verify  (runs on Ganeti 3.1.1; skipped only on Ganeti <3.1.0: " \
        "fixed in 3.1)" in result.output.splitlines()
    assert "built-in skips for Ganeti 3.1.1" in result.output


def test_qa_unknown_test_is_a_usage_error(invoke, fake_qa, tmp_path):
    result = invoke("--root", str(tmp_path / "root"), "qa", "--qa-dir", str(fake_qa),
                    "--only", "cluster-verfy")
    line = assert_one_line_error(result, 2)
    assert "cluster-verfy" in line and "cluster-verify" in line
    assert not (tmp_path / "root").exists()  # nothing created


def test_qa_without_the_qa_suite_is_an_environment_error(invoke, tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke("qa", "--qa-dir", str(tmp_path / "empty"), "--list")
    line = assert_one_line_error(result, 4)
    assert "ganeti-qa.py" in line and "ganeti-testsuite" in line


def test_qa_bad_node_count_is_a_usage_error(invoke, fake_qa, tmp_path):
    result = invoke("--root", str(tmp_path / "root"), "qa", "--qa-dir", str(fake_qa),
                    "--nodes", "0")
    assert_one_line_error(result, 2)
    assert not (tmp_path / "root").exists()


def test_qa_summary_names_the_ganeti_tested_and_the_qa(capsys):
    from pathlib import Path

    from vcluster_ns.cli_qa import _qa_summary
    from vcluster_ns.ganeti.install import Installation
    from vcluster_ns.ganeti.qa.report import Report

    report = Report([], skipped={}, workarounds={}, qa_dir="/home/me/src/ganeti/qa")
    report.record_ganeti(Installation(Path("/home/me/gnt"), "3.1.1", "3.1"))
    _qa_summary(report)
    lines = capsys.readouterr().out.splitlines()
    assert "Ganeti 3.1.1 (/home/me/gnt), QA from /home/me/src/ganeti/qa" in lines
    report.shards = 2  # a merged report says so, and each test's shard
    _qa_summary(report)
    assert capsys.readouterr().out.splitlines()[-1].startswith("QA in 2 shards: 0 passed")


def test_shell_without_a_terminal_is_a_usage_error(invoke, down_cluster):
    # CliRunner's stdin is no terminal: bash -i would complain about job
    # control and exit 0. The cluster and node are checked first.
    line = assert_one_line_error(invoke("--root", str(down_cluster), "shell"), 2)
    assert "shell needs a terminal" in line
    assert "vcluster-ns run NODE COMMAND" in line and "shell -c SCRIPT" in line
    line = assert_one_line_error(invoke("--root", str(down_cluster), "shell", "node9"), 2)
    assert "unknown node 'node9'" in line


def test_shell_with_a_script_needs_no_terminal(invoke, down_cluster):
    line = assert_one_line_error(invoke("--root", str(down_cluster), "shell", "-c", "true"), 5)
    assert "not up" in line


def _vcluster_ns(args, stdin):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "vcluster_ns.entry", *args], stdin=stdin,
                          capture_output=True, text=True, timeout=60)


def test_shell_from_dev_null_and_from_a_terminal(down_cluster):
    import os
    args = ["--root", str(down_cluster), "shell"]
    with open(os.devnull) as devnull:
        result = _vcluster_ns(args, devnull)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Error: shell needs a terminal")
    assert len(result.stderr.splitlines()) == 1
    primary, secondary = os.openpty()  # a terminal on stdin passes the check
    try:
        result = _vcluster_ns(args, secondary)
    finally:
        os.close(primary)
        os.close(secondary)
    assert result.returncode == 5, result.stderr
    assert "is not up" in result.stderr


def test_net_help_lists_whole_lines():
    # click cuts a short help at its first sentence end ("(e.g.") or at the
    # width: every line of the listing must be a whole sentence on an
    # 80-column terminal.
    result = CliRunner().invoke(main, ["net", "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    listing = result.output.split("Commands:\n", 1)[1].splitlines()
    lines = {line.split()[0]: line.split(None, 1)[1] for line in listing if line.strip()}
    assert set(lines) == {"partition", "heal", "down", "up", "delay", "loss"}
    for name, text in lines.items():
        assert text.endswith(".") and not text.endswith(("...", "e.g.")), (name, text)
    assert "50ms" in lines["delay"] and "netem" in lines["delay"]
    assert "5%" in lines["loss"] and "netem" in lines["loss"]
