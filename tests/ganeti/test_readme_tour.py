"""README.md's tour, run line by line as a reader would, in a fresh --root.

Each line runs in bash as written, with VCLUSTER_NS_ROOT pointing at a
temporary root and the working directory holding a ``.venv/bin`` that is
this interpreter's, so ``export PATH="$PWD/.venv/bin:$PATH"`` finds the
vcluster-ns under test. ``vcluster-ns shell`` gets a terminal (a pty) and
types a command and ``exit``.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from helpers import Cli, expect_root, left_over
from hostsnap import HostSnapshot
from readme_tour import is_interactive_shell, tour_lines, words

TIMEOUT = 600


def run_line(line: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", line], env=env, cwd=cwd, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT)


def run_on_terminal(line: str, env: dict, cwd: Path, typed: str) -> tuple[int, str]:
    """Run ``line`` with a pty as its terminal, type ``typed``; (status, output)."""
    primary, secondary = os.openpty()
    proc = subprocess.Popen(["bash", "-c", line], env=env, cwd=cwd, stdin=secondary,
                            stdout=secondary, stderr=secondary, start_new_session=True)
    os.close(secondary)
    os.write(primary, typed.encode())
    output = b""
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(primary, 4096)
                except OSError:  # EIO: every writer of the terminal is gone
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=TIMEOUT), output.decode(errors="replace")
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_readme_tour_runs_as_written(tmp_path_factory):
    expect_root()
    base = tmp_path_factory.mktemp("tour")  # short: Ganeti's socket paths must fit
    root, cwd = base / "r", base / "checkout"
    (cwd / ".venv").mkdir(parents=True)
    (cwd / ".venv/bin").symlink_to(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCLUSTER_NS_")}
    env["VCLUSTER_NS_ROOT"] = str(root)
    before = HostSnapshot.take()
    clusters = set()
    try:
        for line in tour_lines():
            argv = words(line)
            if argv[:1] == ["export"]:  # keep what it exports for the next lines
                out = run_line(f"{line}\nenv -0", env, cwd)
                assert out.returncode == 0, (line, out.stderr)
                env = dict(item.split("=", 1) for item in out.stdout.split("\0") if "=" in item)
                continue
            if "--cluster" in argv:
                clusters.add(argv[argv.index("--cluster") + 1])
            if is_interactive_shell(line):
                code, output = run_on_terminal(line, env, cwd, "echo tour-$((6*7))\nexit\n")
                assert code == 0, (line, output)
                assert "tour-42" in output and "[node1@vcluster-ns:default]" in output, output
                continue
            out = run_line(line, env, cwd)
            assert out.returncode == 0, f"{line}\nstdout: {out.stdout}\nstderr: {out.stderr}"
            if "gnt-instance list" in line:  # on either cluster: both instances
                assert "inst1" in out.stdout and "instance1" in out.stdout, out.stdout
        # The tour cleans up after itself: no cluster, no snapshot, no process.
        assert not [p for p in root.iterdir() if not p.name.startswith(".")]
        assert not list((root / ".snapshots").iterdir())
        assert left_over(before, *(Cli(root, c) for c in clusters | {"default"})) == []
    finally:
        for name in clusters | {"default"}:
            cli = Cli(root, name)
            if cli.dir.exists():
                cli("destroy", "--yes", check=False)
