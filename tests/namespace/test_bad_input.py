"""Bad input through the real CLI subprocess: one case per row of docs/errors.md
that can be produced without Ganeti.

The contract (docs/errors.md): the documented exit code; one line on stderr,
``Error: <what> (<what to do>)``, no traceback; nothing created or changed
under --root.  click's own usage errors print a few lines ("Usage: ...",
"Error: ...") with exit code 2.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import Cli, unique_name, unprivileged_only


def tree(root: Path) -> dict[str, tuple]:
    """Every path below ``root`` with its type, mode, size and mtime."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda e: None):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            found[str(path.relative_to(root))] = (
                stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns)
    return found


def assert_one_error_line(result: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert result.stdout == ""
    return lines[0]


def assert_usage_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """click's usage errors: exit 2, 'Usage:' and an 'Error:' line, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("Usage:"), result.stderr
    errors = [l for l in result.stderr.splitlines() if l.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])


# -- rows that need no cluster ----------------------------------------------

NAME_HINT = ("use lowercase letters, digits and '-', at most 63 characters, "
             "starting and ending with a letter or digit")
NET_HINT = "give an IPv4 prefix such as 192.0.2.0/24"

NO_CLUSTER = [
    pytest.param(["up", "--no-init", "--nodes", "0"], 2,
                 ["invalid node count 0 (give at least 1 node)"], id="nodes-0"),
    pytest.param(["up", "--no-init", "--nodes", "-1"], 2,
                 ["invalid node count -1 (give at least 1 node)"], id="nodes-negative"),
    pytest.param(["up", "--no-init", "--nodes", "300"], 2,
                 ["network 192.0.2.0/24 is too small for 300 nodes and 20 instances",
                  "(use a larger one, e.g. --network 198.18.0.0/16)"], id="nodes-too-many"),
    pytest.param(["up", "--no-init", "--nodes", "3", "--instances", "200"], 2,
                 ["network 192.0.2.0/24 is too small for 3 nodes and 200 instances"],
                 id="instances-too-many"),
    pytest.param(["up", "--no-init", "--nodes", "3000", "--network", "198.18.0.0/16"], 2,
                 ["node count 3000 is above the supported 2000"], id="nodes-above-2000"),
    pytest.param(["--cluster", "Bad/Name", "up", "--no-init"], 2,
                 [f"invalid cluster name 'Bad/Name' ({NAME_HINT})"], id="name-slash"),
    pytest.param(["--cluster", "..", "up", "--no-init"], 2,
                 ["invalid cluster name '..'"], id="name-dotdot"),
    pytest.param(["--cluster", "my cluster", "up", "--no-init"], 2,
                 ["invalid cluster name 'my cluster'"], id="name-space"),
    pytest.param(["--cluster", "Upper", "up", "--no-init"], 2,
                 ["invalid cluster name 'Upper'"], id="name-uppercase"),
    pytest.param(["--cluster", "", "up", "--no-init"], 2,
                 ["invalid cluster name ''"], id="name-empty"),
    pytest.param(["--cluster", "a" * 64, "up", "--no-init"], 2,
                 ["invalid cluster name"], id="name-too-long"),
    pytest.param(["--cluster", "../escape", "status"], 2,
                 ["invalid cluster name '../escape'"], id="name-traversal-status"),
    pytest.param(["up", "--no-init", "--domain", "x..y"], 2,
                 ["invalid domain 'x..y' (use dot-separated lowercase labels"], id="domain"),
    pytest.param(["up", "--no-init", "--network", "10.0.0.1/8"], 2,
                 ["invalid network '10.0.0.1/8': 10.0.0.1/8 has host bits set", NET_HINT],
                 id="network-host-bits"),
    pytest.param(["up", "--no-init", "--network", "not-a-network"], 2,
                 ["invalid network 'not-a-network'", NET_HINT], id="network-garbage"),
    pytest.param(["up", "--no-init", "--network", "192.0.2.0/33"], 2,
                 ["invalid network '192.0.2.0/33'"], id="network-bad-prefix"),
    pytest.param(["up", "--no-init", "--network", "fd00::/64"], 2,
                 ["IPv6 network 'fd00::/64' is not supported (give an IPv4 prefix such as "
                  "198.18.0.0/16)"], id="network-ipv6"),
    pytest.param(["run", "node1", "reboot"], 3,
                 ["refused: 'reboot' would act on the real machine"], id="refused-reboot"),
    pytest.param(["run", "node1", "gnt-node", "powercycle", "node2"], 3,
                 ["refused: 'gnt-node powercycle'",
                  "(use 'vcluster-ns node restart NODE' to simulate a power cycle)"],
                 id="refused-powercycle"),
    pytest.param(["status"], 5, ["no cluster named 'default' in",
                                 "(create it with 'vcluster-ns up')"], id="no-such-cluster"),
    pytest.param(["run", "node1", "true"], 5, ["no cluster named 'default'"],
                 id="run-no-such-cluster"),
    pytest.param(["logs", "node1"], 5, ["no cluster named 'default'"], id="logs-no-such-cluster"),
]


@pytest.mark.parametrize("args,code,fragments", NO_CLUSTER)
def test_refused_before_anything_is_created(tmp_path, args, code, fragments):
    root = tmp_path / "root"
    result = subprocess.run([sys.executable, "-m", "vcluster_ns.entry", "--root", str(root),
                             *args], capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert_one_error_line(result, code, *fragments)
    assert not root.exists(), sorted(tree(tmp_path))


@pytest.mark.parametrize("args,fragments", [
    pytest.param(["run", "node1"], ["Missing argument 'COMMAND...'"], id="run-no-command"),
    pytest.param(["run", "node1", "--"], ["Missing argument 'COMMAND...'"], id="run-only-dashes"),
    pytest.param(["up", "--nodes", "abc"], ["'abc' is not a valid integer"], id="nodes-not-int"),
    pytest.param(["up", "--no-such-option"], ["No such option '--no-such-option'"],
                 id="unknown-option"),
    pytest.param(["no-such-command"], ["No such command 'no-such-command'"], id="unknown-command"),
])
def test_click_usage_errors(tmp_path, args, fragments):
    root = tmp_path / "root"
    result = subprocess.run([sys.executable, "-m", "vcluster_ns.entry", "--root", str(root),
                             *args], capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert_usage_error(result, *fragments)
    assert not root.exists()


# -- --root ------------------------------------------------------------------

def _raw(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vcluster_ns.entry", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})


def test_root_relative(tmp_path):
    result = _raw("--root", "relative/clusters", "up", "--no-init", cwd=tmp_path)
    assert_one_error_line(result, 2, "--root 'relative/clusters' is a relative path "
                          "(give an absolute directory)")
    assert list(tmp_path.iterdir()) == []


def test_root_relative_from_environment(tmp_path):
    result = subprocess.run([sys.executable, "-m", "vcluster_ns.entry", "up", "--no-init"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            stdin=subprocess.DEVNULL,
                            env={**os.environ, "VCLUSTER_NS_ROOT": "rel",
                                 "PYTHONPATH": str(Path(__file__).parents[2])})
    assert_one_error_line(result, 2, "--root 'rel' is a relative path")
    assert list(tmp_path.iterdir()) == []


def test_root_is_a_file(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("not a directory\n")
    result = _raw("--root", str(target), "up", "--no-init")
    assert_one_error_line(result, 2, f"--root {target} is not a directory (give a directory)")
    assert target.read_text() == "not a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@unprivileged_only
@pytest.mark.parametrize("below", [False, True], ids=["root-itself", "root-below"])
def test_root_not_writable(tmp_path, below):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    root = locked / "clusters" if below else locked
    try:
        result = _raw("--root", str(root), "up", "--no-init", "--nodes", "1")
        assert_one_error_line(result, 2, f"--root {root}: {locked} is not writable",
                              "(choose a directory you own, e.g. under $HOME)")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_root_too_long_for_the_control_socket(tmp_path):
    root = tmp_path / ("r" * (120 - len(str(tmp_path))))
    result = _raw("--root", str(root), "up", "--no-init", "--nodes", "1")
    assert_one_error_line(result, 2, "is too long for a unix socket path",
                          "(use a --root shorter than")
    assert not root.exists()


# -- this machine cannot run clusters (exit 4) ----------------------------

# Produced without privilege: in a user and mount namespace of our own, where
# we may lower user.max_user_namespaces (per user namespace) or hide
# /usr/sbin under an empty tmpfs.  The host is not affected.
MACHINE = [
    pytest.param("echo 0 > /proc/sys/user/max_user_namespaces",
                 ["up", "--no-init", "--nodes", "1"],
                 ["cannot create a user namespace: ", "max_user_namespaces"],
                 id="user-namespaces-forbidden"),
    pytest.param("mount -t tmpfs -o ro vcluster-ns-test /usr/sbin",
                 ["up", "--nodes", "1"],
                 ["Ganeti is not installed (/usr/sbin/ganeti-noded is missing) "
                  "(install the Debian packages: apt-get install ganeti ganeti-os-noop)"],
                 id="ganeti-missing"),
]


@pytest.mark.parametrize("setup,args,fragments", MACHINE)
def test_machine_that_cannot_run_clusters(tmp_path, setup, args, fragments):
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("unshare --user --map-root-user --mount is not available")
    root = tmp_path / "root"
    result = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
         f'{setup} || exit 99; exec "$@"', "sh",
         sys.executable, "-m", "vcluster_ns.entry", "--root", str(root), *args],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert_one_error_line(result, 4, *fragments)
    assert not root.exists()


# -- rows about an existing cluster -----------------------------------------

@pytest.fixture(scope="module")
def existing(tmp_path_factory):
    """A real cluster that was up once (1 node) and is down now.  Tests that
    change it put it back; each checks that the CLI changed nothing."""
    cli = Cli(tmp_path_factory.mktemp("existing") / "clusters", unique_name("bad"))
    cli("up", "--no-init", "--nodes", "1")
    cli("down")
    return cli


def left_as_it_was(cli: Cli):
    """Yields ``cli``; afterwards its root's tree is as before and no cluster runs."""
    before = tree(cli.root)
    yield cli
    assert tree(cli.root) == before
    assert cli.pid1() is None


@pytest.fixture
def unchanged(existing):
    """The existing cluster, which the test must leave as it was."""
    yield from left_as_it_was(existing)


UNKNOWN_NODE = [
    pytest.param(["run", "node9", "true"], id="run"),
    pytest.param(["shell", "node9"], id="shell"),
    pytest.param(["shell", "node9", "-c", "true"], id="shell-c"),
    pytest.param(["logs", "node9"], id="logs"),
    pytest.param(["node", "stop", "node9"], id="node-stop"),
    pytest.param(["node", "start", "node9"], id="node-start"),
    pytest.param(["node", "restart", "node9"], id="node-restart"),
    pytest.param(["kill", "node9", "noded"], id="kill"),
]

UNKNOWN_NODE_DOWN = UNKNOWN_NODE


@pytest.mark.parametrize("args", UNKNOWN_NODE_DOWN)
def test_unknown_node_on_a_down_cluster(unchanged, args):
    result = unchanged(*args, check=False)
    assert_one_error_line(result, 2, "unknown node 'node9' (this cluster has node1..node1)")


@pytest.mark.parametrize("args", [
    pytest.param(["run", "node1", "true"], id="run"),
    pytest.param(["shell", "-c", "true"], id="shell"),
    pytest.param(["node", "stop", "node1"], id="node-stop"),
    pytest.param(["node", "restart", "node1"], id="node-restart"),
    pytest.param(["kill", "node1", "noded"], id="kill"),
])
def test_commands_on_a_down_cluster(unchanged, args):
    result = unchanged(*args, check=False)
    assert_one_error_line(result, 5, f"cluster '{unchanged.cluster}' is not up "
                          "(start it with 'vcluster-ns up')")


def test_logs_of_an_unknown_daemon(unchanged):
    result = unchanged("logs", "node1", "foo", check=False)
    assert_one_error_line(result, 2, "unknown daemon 'foo' (daemons: noded, ")


def test_kill_of_an_unknown_daemon_is_bad_input_like_logs(unchanged):
    """Not "is not running" with a hint to start the node: the name is wrong."""
    result = unchanged("kill", "node1", "foo", check=False)
    assert_one_error_line(result, 2, "unknown daemon 'foo' (daemons: noded, ")


def test_a_busy_rapi_port_is_refused_before_anything_is_created(tmp_path):
    import socket
    root = tmp_path / "root"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = Cli(root)("up", "--no-init", "--rapi-port", str(port), check=False)
    line = assert_one_error_line(
        result, 2, f"--rapi-port {port} is in use on 127.0.0.1 "
        "(choose another --rapi-port, or 0 for a free one)")
    assert line.count("Error") == 1
    assert not root.exists() or tree(root) == {}


@pytest.mark.parametrize("args,field", [
    pytest.param(["--nodes", "2"], "--nodes 1, not 2", id="nodes"),
    pytest.param(["--network", "198.18.0.0/16"], "--network 192.0.2.0/24, not 198.18.0.0/16",
                 id="network"),
    pytest.param(["--domain", "example.test"], "--domain unset, not example.test", id="domain"),
    pytest.param(["--rapi-port", "5080"], "--rapi-port unset, not 5080", id="rapi-port"),
])
def test_up_with_options_that_differ_from_the_existing_cluster(unchanged, args, field):
    """Named as the user types them: the option and both values, never
    Python's None or a field name."""
    result = unchanged("up", "--no-init", *args, check=False)
    line = assert_one_error_line(
        result, 2, f"cluster '{unchanged.cluster}' already exists with {field}",
        "(use --cluster OTHER for a new one, or 'vcluster-ns destroy' first)")
    assert "None" not in line and "_" not in line.split("(")[0]


@unprivileged_only
def test_up_into_a_cluster_directory_that_is_not_writable(existing):
    before = tree(existing.root)
    existing.dir.chmod(0o555)
    try:
        result = existing("up", "--no-init", check=False)
        assert_one_error_line(result, 2, f"cluster directory {existing.dir} is not writable",
                              "(fix its permissions, or use another --root)")
    finally:
        existing.dir.chmod(0o755)
    assert tree(existing.root) == before
    assert existing.pid1() is None


CORRUPT = [
    pytest.param("not-json", b"{broken", id="not-json"),
    pytest.param("empty", b"", id="empty"),
    pytest.param("binary", b"\xff\xfe\x00\x01", id="binary"),
    pytest.param("json-list", b"[1, 2, 3]\n", id="json-list"),
    pytest.param("wrong-version", b'{"version": 99, "name": "x"}\n', id="wrong-version"),
    pytest.param("invalid-node-count", None, id="invalid-node-count"),
    pytest.param("unknown-field", None, id="unknown-field"),
]


def _corrupt(original: str, variant: str, raw: bytes | None) -> bytes:
    """``raw`` as is, or the real file with one bad field."""
    if raw is not None:
        return raw
    data = json.loads(original)
    if variant == "invalid-node-count":
        data["nodes"] = 0
    else:
        data["colour"] = "blue"
    return json.dumps(data).encode()


@pytest.mark.parametrize("command", [["up", "--no-init"], ["status"], ["run", "node1", "true"]],
                         ids=["up", "status", "run"])
@pytest.mark.parametrize("variant,raw", CORRUPT)
def test_corrupted_cluster_json(existing, variant, raw, command):
    spec_file = existing.dir / "cluster.json"
    original = spec_file.read_text()
    spec_file.write_bytes(_corrupt(original, variant, raw))
    try:
        before = tree(existing.root)
        result = existing(*command, check=False)
        assert_one_error_line(result, 1, f"corrupted {spec_file}: ",
                              "(fix or remove the file, or 'vcluster-ns destroy' the cluster)")
        assert tree(existing.root) == before
        assert existing.pid1() is None
    finally:
        spec_file.write_text(original)


def test_destroy_removes_a_cluster_with_corrupted_cluster_json(tmp_path):
    cli = Cli(tmp_path / "clusters", unique_name("corrupt"))
    cli("up", "--no-init", "--nodes", "1")
    cli("down")
    (cli.dir / "cluster.json").write_text("{broken")
    result = cli("destroy", "--yes", check=False)
    assert result.returncode == 0, result.stderr
    assert not cli.dir.exists()


@pytest.mark.parametrize("how", [pytest.param("unreadable", marks=unprivileged_only),
                                 "directory"])
def test_unreadable_cluster_json(existing, how):
    spec_file = existing.dir / "cluster.json"
    original = spec_file.read_text()
    if how == "unreadable":
        spec_file.chmod(0)
    else:
        spec_file.unlink()
        spec_file.mkdir()
    try:
        result = existing("status", check=False)
        assert_one_error_line(result, 1, str(spec_file))
    finally:
        if how == "unreadable":
            spec_file.chmod(0o644)
        else:
            spec_file.rmdir()
            spec_file.write_text(original)


def test_the_existing_cluster_still_works(existing):
    """After every refusal above, the cluster comes up as it was (1 node)."""
    existing("up", "--no-init")
    try:
        assert existing("run", "node1", "true").returncode == 0
        unknown = existing("run", "node9", "true", check=False)
        assert_one_error_line(unknown, 2, "unknown node 'node9' (this cluster has node1..node1)")
    finally:
        existing("down")


# -- the Python API ----------------------------------------------------------

API_CALL = r"""
import os, sys
from pathlib import Path
from vcluster_ns.cluster import VirtualCluster
vc = VirtualCluster(sys.argv[1], Path(sys.argv[2]))
argv = eval(sys.argv[3])
try:
    result = vc.run("node1", *argv)
    outcome = f"returned {result.returncode}; its stdout: {result.stdout!r}"
except Exception as exc:
    outcome = f"raised {type(exc).__name__}"
print(f"caller {os.getpid()} {outcome}", flush=True)
"""


@pytest.mark.parametrize("argv", ['["echo", "a\\x00b"]', '[["true"]]'],
                         ids=["nul-byte", "list-not-string"])
def test_api_run_with_bad_argv_does_not_fork_the_caller(existing, argv):
    existing("up", "--no-init")
    try:
        out = subprocess.run([sys.executable, "-c", API_CALL, existing.cluster,
                              str(existing.root), argv],
                             capture_output=True, text=True, timeout=120)
        callers = [l for l in out.stdout.splitlines() if l.startswith("caller ")]
        assert len(callers) == 1, out.stdout + out.stderr
        # A forked copy of this script would print its own "caller" line into
        # the command's captured output, and the bridge would report exit 0.
        assert "its stdout: 'caller" not in callers[0], callers
        assert "returned 0" not in callers[0], callers
    finally:
        existing("down")
