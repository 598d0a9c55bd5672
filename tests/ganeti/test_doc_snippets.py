"""Snippets of the documentation, run as written against a real cluster."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from helpers import Cli

USER_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "user-guide.md"


def rapi_client_snippet() -> str:
    """The user guide's RAPI client: the indented lines from its interpreter
    to its arguments."""
    lines = USER_GUIDE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("    ") and "-c 'import sys" in line)
    end = next(i for i in range(start, len(lines)) if lines[i].endswith("CA_FILE"))
    return "\n".join(line[4:] for line in lines[start:end + 1])


def test_the_snippet_names_the_system_python():
    # The venv's python3 has no pycurl: the snippet must say which one works.
    assert rapi_client_snippet().startswith("/usr/bin/python3 -c ")


def test_the_user_guides_rapi_client_works(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("doc") / "clusters")
    cli("up", "--nodes", "2", "--rapi-port", "0")
    try:
        rapi = json.loads(cli("status", "--json").stdout)["rapi"]
        port = rapi["url"].rsplit(":", 1)[1]
        snippet = rapi_client_snippet()
        assert "port=5080" in snippet
        script = (snippet.replace("port=5080", f"port={port}")
                  .replace("PASSWORD_FILE", rapi["password_file"]).replace("CA_FILE", rapi["ca"]))
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "['node1', 'node2']"
    finally:
        cli("down", check=False)
