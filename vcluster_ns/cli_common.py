"""What every ``vcluster-ns`` command module shares: the context object,
the error-to-exit-code group, and shell completion of node and daemon names."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from .cluster import VirtualCluster
from .errors import VclusterError
from .roots import ENV_DEFAULTS, cluster_option, root_option


class CliError(click.ClickException):
    """A VclusterError on its way out: its own exit code, one line."""

    def __init__(self, error: VclusterError):
        super().__init__(error.one_line())
        self.exit_code = int(error.exit_code)


class Context:
    def __init__(self, cluster: str, root: str | None):
        self.cluster_name = cluster
        self.root = root
        self.start = time.monotonic()
        self.verbose = False

    def progress(self, message: str) -> None:
        elapsed = time.monotonic() - self.start
        click.echo(f"[{elapsed:5.1f}s] {message}", err=True)

    def detail(self, message: str) -> None:
        """A line per node of long work: only with -v (a counter says the rest)."""
        if self.verbose:
            self.progress(message)

    def cluster(self) -> VirtualCluster:
        return VirtualCluster(self.cluster_name, root_option(self.root), progress=self.progress,
                              detail=self.detail)


class Group(click.Group):
    """Turns library errors into CLI errors with the right exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except VclusterError as exc:
            raise CliError(exc) from None


pass_ctx = click.make_pass_decorator(Context)


# -- shell completion (click's: eval "$(_VCLUSTER_NS_COMPLETE=bash_source vcluster-ns)")

def _cluster_from(ctx: click.Context):
    params = ctx.find_root().params
    root = params.get("root") or os.environ.get(ENV_DEFAULTS["root"])
    cluster = cluster_option(params.get("cluster"))
    return VirtualCluster(cluster, Path(root) if root else None)


def complete_node(ctx, param, incomplete):
    """Node names of the cluster named on the command line; also 'master' for
    the commands that take it (run, shell: VirtualCluster.resolve_node); for a
    list of nodes (net partition node1 ...), only those not given yet."""
    try:
        names = _cluster_from(ctx).nodes
    except (VclusterError, OSError):
        return []
    shorts = [n.split(".")[0] for n in names]
    if param.nargs == -1:
        given = {n.split(".")[0] for n in ctx.params.get(param.name) or ()}
        shorts = [n for n in shorts if n not in given]
    if ctx.parent is not None and ctx.parent.parent is None \
            and ctx.command.name in ("run", "shell"):
        shorts.append("master")
    return [n for n in shorts if n.startswith(incomplete)]


def complete_daemon(ctx, param, incomplete):
    from .ganeti import ALL_DAEMONS
    names = [d.removeprefix("ganeti-") for d in ALL_DAEMONS]
    return [d for d in names if d.startswith(incomplete.removeprefix("ganeti-"))]
