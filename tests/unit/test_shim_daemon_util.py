"""The daemon-util shim as written into a cluster: one standalone file that
runs under ``python -IS`` (no package, no site-packages) and speaks the
control socket's protocol like the package does."""

import os
import subprocess
import sys

import pytest
import trio

from vcluster_ns import control
from vcluster_ns.shims import SHIMS, standalone_daemon_util, write_shims
from vcluster_ns.ganeti.install import DAEMON_UTIL


@pytest.fixture
def shim(tmp_path):
    write_shims(tmp_path / "shims", tmp_path)
    from vcluster_ns import mounts
    path = mounts.shim_path(tmp_path / "shims", DAEMON_UTIL)
    assert SHIMS[DAEMON_UTIL] == "daemon_util"
    return path


def run_shim(shim, *args, node="node2"):
    env = {"PATH": "/usr/bin:/bin"}
    if node:
        env["GANETI_HOSTNAME"] = node
    return subprocess.run([str(shim), *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_the_shim_needs_neither_the_package_nor_site_packages(shim, tmp_path):
    text = shim.read_text()
    assert text.startswith(f"#!{sys.executable} -IS\n")
    assert "import vcluster_ns" not in text and "from vcluster_ns" not in text
    # what run() would otherwise take from the package, as plain values
    last = text.rstrip().splitlines()[-1]
    assert repr(str(tmp_path / "control.sock")) in last and "'ganeti-noded'" in last


async def test_verbs_reach_the_supervisor_as_the_package_sends_them(tmp_path, shim):
    asked = []

    async def handler(message):
        asked.append(message)
        return {"ok": message["op"] != "check", "exit": 3 if message["op"] == "check" else 0,
                "error": "ganeti-mond is not running"}

    async with trio.open_nursery() as nursery:
        await nursery.start(control.serve, tmp_path / "control.sock", handler)
        started = await trio.to_thread.run_sync(run_shim, shim, "start", "ganeti-mond", "-d")
        checked = await trio.to_thread.run_sync(run_shim, shim, "check", "ganeti-mond")
        nursery.cancel_scope.cancel()
    assert started.returncode == 0, started.stderr
    assert (checked.returncode, checked.stderr.strip()) == (3, "ganeti-mond is not running")
    assert asked == [
        {"op": "start", "node": "node2", "by": "ganeti", "daemon": "ganeti-mond",
         "args": ["-d"]},
        {"op": "check", "node": "node2", "by": "ganeti", "daemon": "ganeti-mond", "args": []},
    ]


@pytest.mark.parametrize("args, node, error", [
    (("start", "ganeti-foo"), "node1", "Unknown daemon name 'ganeti-foo'"),
    (("stop",), "node1", "Missing daemon name."),
    (("start", "ganeti-noded"), None, "GANETI_HOSTNAME is not set"),
    (("start", "ganeti-noded"), "node1", "the cluster is not up"),
    ((), "node1", "Usage:"),
])
def test_errors_without_a_supervisor(shim, args, node, error):
    result = run_shim(shim, *args, node=node)
    assert result.returncode == 1
    assert error in result.stderr
    assert "Traceback" not in result.stderr


def test_no_op_verbs_succeed_without_a_supervisor(shim):
    assert run_shim(shim, "reload-ssh-keys").returncode == 0


def test_the_package_entry_behaves_the_same(tmp_path, monkeypatch, capsys):
    from vcluster_ns.shims import daemon_util
    monkeypatch.setenv("GANETI_HOSTNAME", "node1")
    assert daemon_util.main([DAEMON_UTIL, "start", "ganeti-noded"], str(tmp_path)) == 1
    assert "the cluster is not up" in capsys.readouterr().err


def test_the_standalone_source_is_the_modules(tmp_path):
    from vcluster_ns import wire
    from vcluster_ns.shims import daemon_util
    import inspect
    text = standalone_daemon_util("/usr/bin/python3", tmp_path)
    assert inspect.getsource(wire) in text and inspect.getsource(daemon_util) in text
    compile(text, "daemon-util", "exec")
    assert os.fspath(tmp_path / "control.sock") in text
