"""Faults from outside: killed clients, closed terminals, full or read-only
disks, stale state after SIGKILL, a control socket that answers garbage.

Every test waits on conditions (helpers.wait_for), never on fixed sleeps.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from helpers import Cli, unprivileged_only, has_title, left_over, unique_name, wait_for
from hostsnap import HostSnapshot
from vcluster_ns.pidfile import PidFile


# -- small local helpers ----------------------------------------------------

def is_gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (absent, or a zombie nobody reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    state = next(l for l in status.splitlines() if l.startswith("State:"))
    return "Z" in state.split()[1]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def cluster_pids_running(cli: Cli, command: str) -> list[int]:
    """Host pids of the cluster's processes whose command line is ``command``."""
    return [pid for pid, cmd in cli.cluster_processes().items() if cmd == command]


def title_pid(cli: Cli, role: str) -> int:
    return next(pid for pid, cmd in cli.cluster_processes().items()
                if has_title(cmd, cli, role))


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The CLI's failure contract: exactly one line on stderr, 'Error: ...'."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    return lines[0]








def assert_host_as_before(before: HostSnapshot, cli: Cli, timeout: float = 30) -> None:
    wait_for(lambda: not left_over(before, cli), timeout, what="the host to look as before")
    assert left_over(before, cli) == []



def unshare_available() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                           capture_output=True)
    return probe.returncode == 0


# -- a killed client --------------------------------------------------------

def test_sigkill_of_run_kills_the_command_inside(cli: Cli):
    before = HostSnapshot.take()
    cli("up", "--no-init", "--nodes", "1")
    client = subprocess.Popen(cli.argv("run", "node1", "sleep", "1000"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        sleeper = wait_for(lambda: cluster_pids_running(cli, "sleep 1000"), 30,
                           what="'sleep 1000' inside the cluster")[0]
        # The chain is client -> bridge (host pid namespace) -> command.
        bridges = children_of(client.pid)
        assert bridges, "the bridge process of 'run' was not found"
    finally:
        client.send_signal(signal.SIGKILL)
        client.wait(timeout=30)
    assert client.returncode == -signal.SIGKILL
    wait_for(lambda: is_gone(sleeper), 30, what="the command to die with its client")
    wait_for(lambda: all(is_gone(b) for b in bridges), 30,
             what="the bridge to die with its client")
    assert not cluster_pids_running(cli, "sleep 1000")
    # The cluster itself is not affected.
    assert cli("run", "node1", "true").returncode == 0
    cli("down")
    wait_for(lambda: not cli.cluster_processes(), 30, what="cluster processes to end")
    assert_host_as_before(before, cli)


# -- a terminal that goes away ----------------------------------------------

def _read_until(fd: int, needle: bytes, buffer: bytearray, timeout: float = 30) -> bytes:
    deadline = time.monotonic() + timeout
    while needle not in buffer:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {needle!r}; terminal showed "
                                 f"{bytes(buffer)!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side closed
                chunk = b""
            if not chunk:
                raise AssertionError(f"terminal closed before {needle!r}; it showed "
                                     f"{bytes(buffer)!r}")
            buffer += chunk
    return bytes(buffer)


def _controlling_terminal() -> None:  # runs in the child, after setsid
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_terminal_closing_ends_the_shell_not_the_cluster(cli: Cli):
    cli("up", "--no-init", "--nodes", "2")
    master, slave = os.openpty()
    shell = subprocess.Popen(cli.argv("shell"), stdin=slave, stdout=slave, stderr=slave,
                             start_new_session=True, preexec_fn=_controlling_terminal)
    os.close(slave)
    master_open = True
    try:
        seen = bytearray()
        _read_until(master, b"node1@vcluster-ns:", seen)
        # The interactive shell works: it runs as node1.
        os.write(master, b'echo "[$GANETI_HOSTNAME]"\n')
        _read_until(master, b"[node1]", seen)
        bash = wait_for(lambda: cluster_pids_running(cli, "/bin/bash --norc -i"), 30,
                        what="the interactive bash inside the cluster")
        bridges = children_of(shell.pid)
        assert bridges
        # The terminal goes away (a closed ssh session, a killed xterm).
        os.close(master)
        master_open = False
        wait_for(lambda: shell.poll() is not None, 30, what="the shell command to exit")
        wait_for(lambda: all(is_gone(p) for p in bash + bridges), 30,
                 what="the shell and its bridge to end")
    finally:
        if master_open:
            os.close(master)
        if shell.poll() is None:
            shell.kill()
            shell.wait()
    assert not cluster_pids_running(cli, "/bin/bash --norc -i")
    # The cluster stays up.
    assert json.loads(cli("status", "--json").stdout)["state"] == "up"
    assert cli("run", "node1", "true").returncode == 0


# -- a root that cannot be written ------------------------------------------

@unprivileged_only
def test_up_into_read_only_root_is_refused_and_creates_nothing(tmp_path):
    parent = tmp_path / "read-only"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        for root in (parent / "clusters", parent):
            result = Cli(root)("up", "--no-init", "--nodes", "1", check=False)
            assert result.returncode == 2, result.stderr
            line = one_error_line(result)
            assert "is not writable" in line and str(parent) in line
            assert list(parent.iterdir()) == []
    finally:
        parent.chmod(0o755)


MOUNT_AND_RUN = r'''
mnt="$1"; shift
mount -t tmpfs -o "$OPTIONS" vcluster-ns-test "$mnt" || exit 99
"$@"; code=$?
if [ "$code" = 0 ]; then eval "$DOWN" >/dev/null 2>&1; fi  # not expected: clean up
echo "LEFT:$(cd "$mnt" && find . -mindepth 1 | sort | tr '\n' ' ')"
exit $code
'''


def _cli_on_tmpfs(tmp_path: Path, options: str, *args: str) -> subprocess.CompletedProcess:
    """Run the CLI with --root on a tmpfs of its own (mounted in a private user
    and mount namespace, so no privilege is needed and the host sees nothing)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    cli = Cli(mnt / "clusters")
    env = {**os.environ, "OPTIONS": options, "DOWN": shlex.join(cli.argv("down"))}
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", MOUNT_AND_RUN,
         "sh", str(mnt), *cli.argv(*args)],
        capture_output=True, text=True, timeout=120, env=env)


def test_disk_full_while_creating_fails_cleanly(tmp_path):
    if not unshare_available():
        pytest.skip("unshare --user --map-root-user --mount is not available")
    result = _cli_on_tmpfs(tmp_path, "size=16k", "up", "--no-init", "--nodes", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [l for l in result.stderr.splitlines() if l.startswith("Error:")]
    assert len(errors) == 1 and result.stderr.splitlines()[-1] == errors[0], result.stderr
    assert "cannot create" in errors[0] and "No space left on device" in errors[0]
    # The partial cluster directory is removed, and so is the --root that
    # up made for it (with the cluster's lock file): nothing is left.
    assert "LEFT:\n" in result.stdout, result.stdout
    assert list((tmp_path / "mnt").iterdir()) == []  # the host saw nothing


def test_disk_full_message_is_the_documented_one(tmp_path):
    if not unshare_available():
        pytest.skip("unshare --user --map-root-user --mount is not available")
    result = _cli_on_tmpfs(tmp_path, "size=16k", "up", "--no-init", "--nodes", "1")
    error = result.stderr.splitlines()[-1]
    cluster_dir = tmp_path / "mnt" / "clusters" / "default"
    assert error == (f"Error: cannot create cluster in {cluster_dir}: No space left on "
                     "device (check free space and permissions of --root)")


def test_read_only_filesystem_root_is_refused(tmp_path):
    if not unshare_available():
        pytest.skip("unshare --user --map-root-user --mount is not available")
    result = _cli_on_tmpfs(tmp_path, "ro,size=1m", "up", "--no-init", "--nodes", "1")
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_error_line(result)
    assert "is not writable" in line
    assert "LEFT:\n" in result.stdout, result.stdout


# -- stale state ------------------------------------------------------------

# ``up`` run under a parent of ours that is a child subreaper: the launcher,
# orphaned when ``up`` exits, becomes its child, and so does init if the
# launcher dies.  "reap" reaps them as systemd would; "keep" never reaps, as
# the init of some VMs and containers does not (see the user guide).
PARENT = r"""
import ctypes, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
mode, argv = sys.argv[1], sys.argv[2:]
result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
print(result.returncode, result.stderr.replace("\n", " | "), flush=True)
if mode == "reap":
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
else:
    sys.stdin.read()
"""


def up_under_parent(cli: Cli, mode: str, *args: str) -> subprocess.Popen:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, mode, *cli.argv("up", *args)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    first = parent.stdout.readline()
    assert first.startswith("0 "), first
    return parent


def kill_launcher_and_pid1(cli: Cli) -> int:
    """SIGKILL both: nobody is left to remove supervisor.pid and control.sock."""
    pid1 = cli.pid1()
    launcher = title_pid(cli, "launcher")
    os.kill(launcher, signal.SIGKILL)
    wait_for(lambda: is_gone(launcher), 30, what="the launcher to die")
    os.kill(pid1, signal.SIGKILL)
    wait_for(lambda: not cli.cluster_processes(), 30, what="cluster processes to end")
    assert (cli.dir / "supervisor.pid").exists() and (cli.dir / "control.sock").exists()
    return pid1


def test_sigkill_of_launcher_and_pid1_leaves_stale_files_that_are_handled(cli: Cli):
    before = HostSnapshot.take()
    parent = up_under_parent(cli, "reap", "--no-init", "--nodes", "2")
    try:
        pid1 = kill_launcher_and_pid1(cli)
        wait_for(lambda: parent.poll() is not None, 30, what="the zombies to be reaped")
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.communicate()

    status = cli("status")
    assert status.returncode == 0 and ": down " in status.stdout and status.stderr == ""
    not_up = cli("run", "node1", "true", check=False)
    assert not_up.returncode == 5 and "is not up" in one_error_line(not_up)
    cli("up", "--no-init")
    assert cli.pid1() not in (None, pid1)
    assert cli("run", "node1", "true").returncode == 0
    cli("down")
    assert not (cli.dir / "supervisor.pid").exists()
    assert not (cli.dir / "control.sock").exists()
    wait_for(lambda: not cli.cluster_processes(), 30, what="cluster processes to end")
    assert_host_as_before(before, cli)


def test_killed_cluster_whose_pid1_is_not_reaped_counts_as_down(cli: Cli):
    parent = up_under_parent(cli, "keep", "--no-init", "--nodes", "1")
    pid_file = cli.dir / "supervisor.pid"
    try:
        kill_launcher_and_pid1(cli)  # init stays a zombie: nobody reaps it
        status = cli("status", check=False)
        up = cli("up", "--no-init", check=False)
        assert (status.returncode, ": down " in status.stdout) == (0, True), status.stderr
        assert up.returncode == 0 and "already up" not in up.stdout
        assert cli("run", "node1", "true", check=False).returncode == 0
    finally:
        parent.stdin.close()
        parent.wait(30)
        # Whatever the outcome, do not leave 'down' a zombie to wait for.
        raw = PidFile(pid_file).read_raw()
        if raw and is_gone(raw[0]):
            pid_file.unlink()


def test_sigkill_of_pid1_then_status_down_and_up_again(cli: Cli):
    cli("up", "--no-init", "--nodes", "1")
    pid1 = cli.pid1()
    os.kill(pid1, signal.SIGKILL)
    wait_for(lambda: not cli.cluster_processes(), 30, what="cluster processes to end")
    status = cli("status")
    assert status.returncode == 0 and f"cluster {cli.cluster}: down" in status.stdout
    cli("up", "--no-init")
    assert f"cluster {cli.cluster}: up" in cli("status").stdout
    assert cli("run", "node1", "true").returncode == 0


def _dead_socket(path: Path) -> None:
    """A socket file nobody listens on (what a killed server leaves)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.close()


def test_leftover_control_socket_and_reused_pid(cli: Cli):
    cli("up", "--no-init", "--nodes", "1")
    cli("down")
    _dead_socket(cli.dir / "control.sock")
    status = cli("status")
    assert status.returncode == 0 and ": down " in status.stdout and status.stderr == ""
    # A pid file whose pid now belongs to another process (ours, started at
    # another time) is stale too.
    (cli.dir / "supervisor.pid").write_text(f"{os.getpid()} 1\n")
    status = cli("status")
    assert status.returncode == 0 and ": down " in status.stdout, status.stderr
    node = cli("run", "node1", "true", check=False)
    assert node.returncode == 5 and "is not up" in one_error_line(node)
    cli("up", "--no-init")
    assert cli("run", "node1", "true").returncode == 0
    assert ": up " in cli("status").stdout


# -- a control socket that answers garbage ----------------------------------

class GarbageServer:
    """Listens on a unix socket; answers every connection with ``reply``."""

    def __init__(self, path: Path, reply: bytes):
        self.path = path
        self.reply = reply
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                self.connections += 1
                conn.settimeout(5)
                try:
                    conn.recv(65536)
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def down_cluster(tmp_path_factory):
    """A real cluster that was up once and is now down."""
    cli = Cli(tmp_path_factory.mktemp("garbage") / "clusters", unique_name("garbage"))
    cli("up", "--no-init", "--nodes", "1")
    cli("down")
    return cli


GARBAGE = [
    pytest.param(b"garbage\n", id="text"),
    pytest.param(b"", id="closes-at-once"),
    pytest.param(b"[1, 2]\n", id="json-list"),
    pytest.param(b'{"answer": 42}\n', id="json-without-ok"),
    pytest.param(b"\xff\xfe\x00garbage\n", id="binary"),
    pytest.param(b'{"ok": true}\n', id="ok-but-nothing-else"),
]


@pytest.mark.parametrize("reply", GARBAGE)
def test_control_socket_answering_garbage(down_cluster: Cli, reply: bytes):
    cli = down_cluster
    pid_file = cli.dir / "supervisor.pid"
    server = GarbageServer(cli.dir / "control.sock", reply)
    # A live process of ours, recorded with its true start time: the CLI must
    # believe the cluster is up.  A thread reaps it so that it can really end.
    fake = subprocess.Popen(["sleep", "600"])
    reaper = threading.Thread(target=fake.wait, daemon=True)
    reaper.start()
    try:
        PidFile(pid_file).write(fake.pid)
        result = cli("status", check=False)
        assert result.returncode == 1, (result.stdout, result.stderr)
        line = one_error_line(result)
        assert "answered garbage" in line and str(cli.dir / "control.sock") in line
        assert server.connections >= 1
        # 'down' does not trust the answer either: it ends the process.
        down = cli("down", check=False)
        assert down.returncode == 0, down.stderr
        assert "Traceback" not in down.stderr
        reaper.join(30)
        assert fake.returncode == -signal.SIGTERM
        assert not pid_file.exists()
        assert not (cli.dir / "control.sock").exists()
    finally:
        server.close()
        if fake.poll() is None:
            fake.kill()
        reaper.join(30)
        for stale in (pid_file, cli.dir / "control.sock"):
            stale.unlink(missing_ok=True)
    assert ": down " in cli("status").stdout
