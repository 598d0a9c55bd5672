"""entry.py: the short way for a plain ``run`` must say what click would say."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vcluster_ns.entry import parse_plain_run


@pytest.fixture(autouse=True)
def no_env_defaults(monkeypatch):
    monkeypatch.delenv("VCLUSTER_NS_ROOT", raising=False)
    monkeypatch.delenv("VCLUSTER_NS_CLUSTER", raising=False)


@pytest.mark.parametrize("args,expected", [
    (["run", "node1", "true"], ("default", None, "node1", ["true"])),
    (["run", "node1", "--", "ls", "-l"], ("default", None, "node1", ["ls", "-l"])),
    (["run", "node1", "ls", "--help"], ("default", None, "node1", ["ls", "--help"])),
    (["--cluster", "a", "--root", "/r", "run", "n2", "x"], ("a", "/r", "n2", ["x"])),
    (["-c", "a", "--root=/r", "run", "n2", "x"], ("a", "/r", "n2", ["x"])),
    (["--cluster=a", "run", "n2", "x", "--", "y"], ("a", None, "n2", ["x", "--", "y"])),
])
def test_plain_run_lines(args, expected):
    assert parse_plain_run(args) == expected


@pytest.mark.parametrize("args", [
    ["run"], ["run", "node1"], ["run", "node1", "--"],         # click's usage errors
    ["run", "--help"], ["run", "-h"], ["--help", "run", "n", "x"],
    ["run", "--", "node1", "true"],                              # click handles "--" first
    ["status"], ["up", "--nodes", "3"], [],
    ["--cluster"], ["--cluster", "", "run", "n", "x"],
    ["--cluster", "a", "--cluster", "b", "run", "n", "x"],       # click would take the last
    ["-c=a", "run", "n", "x"], ["-ca", "run", "n", "x"], ["--verbose", "run", "n", "x"],
])
def test_anything_else_goes_to_click(args):
    assert parse_plain_run(args) is None


def test_environment_gives_the_defaults_options_override(monkeypatch):
    monkeypatch.setenv("VCLUSTER_NS_ROOT", "/env-root")
    monkeypatch.setenv("VCLUSTER_NS_CLUSTER", "envc")
    assert parse_plain_run(["run", "n", "x"]) == ("envc", "/env-root", "n", ["x"])
    assert parse_plain_run(["-c", "a", "run", "n", "x"]) == ("a", "/env-root", "n", ["x"])


def program(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vcluster_ns.entry", *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("command", [
    ["true"],                    # no such cluster: exit 5
    ["reboot"],                  # refused by policy: exit 3, before looking for the cluster
    ["gnt-node", "powercycle", "node2"],
])
def test_short_way_and_click_give_the_same_error(tmp_path, command):
    root = str(tmp_path / "clusters")
    short = program("--root", root, "run", "node1", *command)
    via_click = program("--root", root, "run", "--", "node1", *command)
    assert short.returncode == via_click.returncode != 0
    assert short.stderr == via_click.stderr
    assert short.stderr.startswith("Error: ") and short.stderr.count("\n") == 1
    assert short.stdout == via_click.stdout == ""


def test_bad_cluster_name_same_error_both_ways(tmp_path):
    root = str(tmp_path / "clusters")
    short = program("--root", root, "-c", "no/slash", "run", "node1", "true")
    via_click = program("--root", root, "-c", "no/slash", "run", "--", "node1", "true")
    assert short.returncode == via_click.returncode == 2
    assert short.stderr == via_click.stderr
