"""Where clusters live, and how a command names one.

A cluster is a directory ``<root>/<name>``.  The root defaults to
``$XDG_DATA_HOME/vcluster-ns`` (``~/.local/share/vcluster-ns``); ``--root``
or ``VCLUSTER_NS_ROOT`` choose another, ``--cluster`` or
``VCLUSTER_NS_CLUSTER`` the name.  Both the click CLI and the short way of a
plain ``run`` (entry.py) read these, so they live below both.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InvalidInput

DEFAULT_CLUSTER = "default"
# Global option -> the environment variable that gives its default.
ENV_DEFAULTS = {"cluster": "VCLUSTER_NS_CLUSTER", "root": "VCLUSTER_NS_ROOT"}


def default_root() -> Path:
    # The XDG spec: a relative XDG_DATA_HOME is invalid and must be ignored.
    base = os.environ.get("XDG_DATA_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "vcluster-ns"


def root_option(root: str | None) -> Path | None:
    """``--root`` as given (None: the default); an empty one is refused, not
    taken silently for the default."""
    if root is None:
        return None
    if root == "":
        raise InvalidInput("--root is empty",
                           "give a directory, or leave --root out for the default")
    return Path(root)


def cluster_option(name: str | None) -> str:
    """The cluster a command names: its option, else the environment's, else default."""
    return name or os.environ.get(ENV_DEFAULTS["cluster"]) or DEFAULT_CLUSTER


def global_options(name: str, root: Path | None) -> str:
    """The global options a hint must repeat to reach the same cluster
    (``root``: None for the default): empty for the default cluster."""
    import shlex
    words = []
    if root is not None and Path(root) != default_root():
        words += ["--root", shlex.quote(str(root))]
    if name != DEFAULT_CLUSTER:
        words += ["--cluster", shlex.quote(name)]
    return " ".join(words)


def command(name: str, root: Path | None, *words: str) -> str:
    """``vcluster-ns [global options] WORDS...`` as a user should type it."""
    return " ".join(["vcluster-ns", *filter(None, [global_options(name, root)]), *words])
