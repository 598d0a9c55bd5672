"""A --root too long for Ganeti's own sockets is refused before anything exists.

In the ganeti tier because the check runs after the machine checks (a
machine without Ganeti answers exit 4 first)."""

from __future__ import annotations

import subprocess
import sys


def test_root_too_long_for_ganetis_sockets(tmp_path):
    # Short enough for control.sock, too long for node10's ganeti-wconfd socket.
    root = tmp_path / ("r" * (80 - len(str(tmp_path))))
    result = subprocess.run([sys.executable, "-m", "vcluster_ns.entry", "--root", str(root),
                             "up", "--nodes", "10"], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cluster directory ")
    assert "is too long for Ganeti's unix sockets" in lines[0]
    assert "(use a --root of at most" in lines[0]
    assert not (root / "default").exists()
