"""The ``vcluster-ns`` command: click commands only; the work is in cluster.py.

Every error reaches the user as one line, ``Error: what (what to do)``, with
an exit code from ``errors.ExitCode``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from . import policy, ui
from .errors import ExitCode, InvalidInput, VclusterError
from .ganeti.join import DEFAULT_WAY as DEFAULT_JOIN
from .ganeti.join import WAYS as JOIN_WAYS
from .cli_common import Context, Group, complete_daemon, complete_node, pass_ctx
from .cli_qa import qa_command
from .roots import ENV_DEFAULTS
from .spec import (DEFAULT_INSTANCES, DEFAULT_NETWORK, DEFAULT_NETWORK_MODE, DEFAULT_NODES,
                   DEFAULT_WATCHER_INTERVAL, NETWORK_MODES)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--cluster", "-c", default="default", envvar=ENV_DEFAULTS["cluster"],
              show_default=True, help="Which cluster (a name; several can run at once).")
@click.option("--root", envvar=ENV_DEFAULTS["root"], metavar="DIR",
              help="Directory holding clusters [default: $XDG_DATA_HOME/vcluster-ns, "
                   "i.e. ~/.local/share/vcluster-ns].")
@click.pass_context
def main(ctx, cluster, root):
    """Rootless virtual Ganeti clusters in Linux namespaces.

    Every virtual node runs Ganeti's real daemons inside private user,
    network, mount and pid namespaces; nothing on the host changes.

    \b
    Typical session:
      vcluster-ns up --nodes 3
      vcluster-ns run node1 gnt-node list
      vcluster-ns shell
      vcluster-ns status
      vcluster-ns down

    Exit codes: 0 ok, 1 failed, 2 usage, 3 refused by policy, 4 this machine
    cannot run clusters, 5 no such cluster or not up; 'run' returns the
    command's own status.

    Shell completion (node and daemon names from the cluster):
    eval "$(_VCLUSTER_NS_COMPLETE=bash_source vcluster-ns)"
    """
    ctx.obj = Context(cluster, root)


@main.command()
@click.option("--nodes", "-n", type=int, default=DEFAULT_NODES, show_default=True,
              help="Number of virtual nodes (node1..nodeN).")
@click.option("--network", default=DEFAULT_NETWORK, show_default=True,
              help="IPv4 prefix of the cluster; cluster IP is host .1, nodes from .10.")
@click.option("--domain", default="", help="DNS domain of node names (default: none).")
@click.option("--instances", type=int, default=DEFAULT_INSTANCES, show_default=True,
              help="Instance names instance1..M put into the cluster's /etc/hosts.")
@click.option("--watcher-interval", type=int, default=DEFAULT_WATCHER_INTERVAL,
              show_default=True, metavar="SECONDS",
              help="Run ganeti-watcher on every node this often (0: never), as cron would; "
                   "the schedule starts when up is over.")
@click.option("--rapi-port", type=int, default=None, metavar="PORT",
              help="Make the master's RAPI reachable at https://127.0.0.1:PORT on the "
                   "host (0: a free port); 'status' shows URL and credentials.")
@click.option("--network-mode", type=click.Choice(NETWORK_MODES),
              default=DEFAULT_NETWORK_MODE, show_default=True,
              help="isolated: a network namespace per node, as real machines (faults "
                   "with 'vcluster-ns net'); shared: one namespace for all nodes, "
                   "lighter, as vcluster-setup.")
@click.option("--secondary-network", default=None, metavar="CIDR",
              help="Give every node a secondary IP on a second switch (Ganeti's "
                   "replication network, gnt-node add -s), e.g. 198.51.100.0/24.")
@click.option("--ganeti", "ganeti_tree", metavar="PATH", default=None,
              help="Run the Ganeti installed in PATH, the DESTDIR of Ganeti's "
                   "'make install' (usr/lib/ganeti/VERSION, usr/share/ganeti/VERSION, "
                   "usr/sbin); its files appear at Ganeti's own paths inside the cluster. "
                   "Default: the system's Ganeti.")
@click.option("--ganeti-extra", "ganeti_extra", metavar="PATH", multiple=True,
              help="Also install the Ganeti of PATH (another version) beside it on every "
                   "node, for 'gnt-cluster upgrade --to VERSION'. Repeatable.")
@click.option("--slice", "slice_", metavar="FIRST-LAST", default=None,
              help="Run only nodes FIRST..LAST of the --nodes here, one slice of a cluster "
                   "spread over machines (docs/slices.md). The slice holding node1 is the "
                   "master's; the others give --join.")
@click.option("--join", metavar="[USER@]HOST[:PORT]", default=None,
              help="Join the master's slice on HOST, reached with ssh (no password): a "
                   "link carries the cluster's network between the machines.")
@click.option("--join-command", metavar="COMMAND", default=None,
              help="The vcluster-ns command on the --join machine, with its options "
                   "(default: 'vcluster-ns'; the --cluster name is added).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the cluster's status as JSON (see 'status --json') when up.")
@click.option("--no-init", is_flag=True, help="Start the namespaces and daemons only; "
              "do not run gnt-cluster init / gnt-node add.")
@click.option("--from-snapshot", "snapshot_name", metavar="NAME",
              help="Create the cluster as a copy of snapshot NAME (see 'vcluster-ns "
                   "snapshot --help'); nodes, network, domain and instances come from it.")
@click.option("--reset", is_flag=True,
              help="With --from-snapshot: replace this existing cluster (it must be down) "
                   "by the snapshot.")
@click.option("--file", "-f", "cluster_file", metavar="FILE",
              help="A cluster file (TOML, see docs/topology.md): per-node memory, CPUs "
                   "and disk, node groups, instances; options given here override it.")
@click.option("--dump-config", is_flag=True,
              help="Print the effective cluster file of this cluster (if it exists, else "
                   "of the one up would create) and exit.")
@click.option("--node-adds", "join_way", type=click.Choice(JOIN_WAYS), default=DEFAULT_JOIN,
              show_default=True,
              help="How the nodes are added to Ganeti (--join is another thing: joining a "
                   "slice to a cluster on another machine). linear: with the candidate pool "
                   "at 1, every node goes offline right after its 'gnt-node add' and all "
                   "come online together at the end, the first ones as candidates, so an "
                   "add costs about the same however many nodes there are (100 nodes in "
                   "about 3 minutes, 300 in about 12 on 2 cores); the cluster is the same. "
                   "sequential: plain 'gnt-node add' while every node stays online (each "
                   "add costs more than the last), to exercise gnt-node add itself.")
@click.option("--verbose", "-v", is_flag=True,
              help="A progress line per node (default: a counter with a rate and the "
                   "time left).")
@click.pass_context
def up(ctx, nodes, network, domain, instances, watcher_interval, rapi_port,
       network_mode, secondary_network, ganeti_tree, ganeti_extra, slice_, join, join_command,
       as_json, no_init, snapshot_name, reset, cluster_file, dump_config, join_way, verbose):
    """Create (if needed) and start a cluster; return when Ganeti lists every node.

    On a cluster that is already up this says so and exits 0; one that is up
    but incomplete (an interrupted 'up') is finished. A cluster that was
    brought down comes back with its Ganeti configuration and instances.
    Another command changing the cluster is waited for.

    \b
    From a snapshot (see 'vcluster-ns snapshot --help'):
      vcluster-ns --cluster copy up --from-snapshot prepared   # a new cluster
      vcluster-ns up --from-snapshot prepared --reset          # this one, reset

    \b
    Your own Ganeti build (see docs/user-guide.md, "Running your own Ganeti"):
      make install DESTDIR=$HOME/gnt && vcluster-ns up --ganeti $HOME/gnt
    """
    if reset and not snapshot_name:
        raise click.UsageError("--reset needs --from-snapshot NAME")
    obj: Context = ctx.obj
    obj.verbose = verbose
    options = dict(nodes=nodes, network=network, domain=domain, instances=instances,
                   watcher_interval=watcher_interval, rapi_port=rapi_port,
                   network_mode=network_mode, secondary_network=secondary_network,
                   slice=slice_, join=join, join_command=join_command)
    params = {"slice": "slice_"}
    given = {name for name in options
             if ctx.get_parameter_source(params.get(name, name))
             != click.core.ParameterSource.DEFAULT}
    from .request import up_spec
    spec, given = up_spec(obj.cluster_name, options, given, cluster_file, ganeti_tree,
                          tuple(ganeti_extra))
    vc = obj.cluster()
    if dump_config:
        from . import clusterfile
        click.echo(clusterfile.dump(vc.spec() if vc.exists() else spec), nl=False)
        return
    if snapshot_name:
        started = vc.from_snapshot(snapshot_name, spec, given, reset=reset, init=not no_init)
    else:
        started = vc.up(spec, given, init=not no_init, join=join_way)
    if as_json:
        click.echo(json.dumps({"started": started, **vc.status()}, indent=2))
        return
    if not started:
        click.echo(f"cluster {obj.cluster_name!r} is already up")
        return
    spec = vc.spec()
    obj.progress(f"cluster {obj.cluster_name!r} is up: {spec.nodes} nodes, "
                 f"master {spec.master_node}")
    click.echo(f"cluster {obj.cluster_name!r} up in {time.monotonic() - obj.start:.1f}s; "
               f"try: {vc.command('run', spec.master_node.split('.')[0], 'gnt-node', 'list')}")


@main.command(context_settings={"ignore_unknown_options": True,
                                "allow_interspersed_args": False})
@click.argument("node", shell_complete=complete_node)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_ctx
def run(obj: Context, node, command):
    """Run COMMAND on virtual NODE; stdio, terminal and exit status pass through.

    NODE may be 'master': whichever node is Ganeti's master now.

    \b
    Examples:
      vcluster-ns run node1 gnt-node list
      vcluster-ns run master gnt-instance list
      vcluster-ns run node1 -- gnt-cluster verify --error-codes
    """
    command = list(command)
    if command[:1] == ["--"]:  # click keeps it once arguments stop interspersing
        command = command[1:]
    if not command:
        raise click.UsageError("Missing argument 'COMMAND...'.")
    policy.check_command(command)
    vc = obj.cluster()
    code = vc.run_foreground(node, command, cwd=os.getcwd())
    hint = vc.not_master_hint(node, command, code)
    if hint:
        click.echo(hint, err=True)
    sys.exit(code)


@main.command()
@click.argument("node", required=False, shell_complete=complete_node)
@click.option("-c", "command", metavar="SCRIPT", help="Run SCRIPT with bash -c instead "
              "of an interactive shell.")
@pass_ctx
def shell(obj: Context, node, command):
    """A shell on NODE (default, or 'master': the master now) whose prompt names the node.

    The interactive shell needs a terminal on stdin; without one (a script,
    a pipe, CI) use 'vcluster-ns run NODE COMMAND' or 'shell -c SCRIPT'.
    """
    if command is not None:
        policy.check_command(["bash", "-c", command])
    vc = obj.cluster()
    target = vc.resolve_node(node or "master")
    if command is None and not sys.stdin.isatty():  # bash -i: job control errors, exit 0
        raise InvalidInput("shell needs a terminal on stdin for an interactive shell",
                           "without one, use 'vcluster-ns run NODE COMMAND' or "
                           "'vcluster-ns shell -c SCRIPT'")
    short = target.split(".")[0]
    if command is not None:
        argv = ["/bin/bash", "-c", command]
    else:
        argv = ["/bin/bash", "--norc", "-i"]
    env_prompt = f"[{short}@vcluster-ns:{obj.cluster_name}] \\w\\$ "
    os.environ["PS1"] = env_prompt
    sys.exit(vc.run_foreground(target, argv, cwd="/root"))


def _echo_resources(nodes: list[dict]) -> None:
    """Each node's group, memory, CPUs and disk as Ganeti is told them."""
    from .ganeti.resources import format_mib
    rows = [[n["name"], n.get("group") or "default",
             format_mib(n["memory_mib"]) if n.get("memory_mib") else "host",
             str(n["cpus"]) if n.get("cpus") else "host",
             format_mib(n["disk_mib"]) if n.get("disk_mib") else "host"] for n in nodes]
    click.echo()
    for line in ui.table(rows, ["NODE", "GROUP", "MEMORY", "CPUS", "DISK"]):
        click.echo(line)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def status(obj: Context, as_json):
    """Nodes, addresses, roles, and each daemon's pid, state, restarts, uptime."""
    vc = obj.cluster()
    info = vc.status()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"cluster {info['cluster']}: {ui.style(info['state'])}  ({info['directory']})")
    _echo_ganeti(info.get("ganeti"))
    if info.get("missing"):
        recovery = info.get("recovery") or "vcluster-ns up"
        click.echo(f"missing: {'; '.join(info['missing'])} ('{recovery}' finishes it)")
    if info["state"] not in ("up", "incomplete"):
        return
    network = f"network {info['network']}"
    if info.get("secondary_network"):
        network += f", secondary {info['secondary_network']}"
    click.echo(f"ganeti cluster {info['ganeti_cluster']} ({info['cluster_ip']}), "
               f"master {info.get('master') or '-'}, {network} "
               f"({info.get('network_mode', 'shared')})")
    _echo_slice(info)
    rapi = info.get("rapi")
    if rapi:
        click.echo(f"RAPI {rapi['url']}  user {rapi['user']}  password in "
                   f"{rapi['password_file']}  CA {rapi['ca']}")
    rows = []
    for node in info["nodes"]:
        role = node["role"] or "-"
        if node["stopped"]:
            role += " (stopped)"
        daemons = node["daemons"] or [None]
        for i, d in enumerate(daemons):
            first = i == 0
            if d is None:
                rows.append([node["name"], node["address"], role, "-", "-", "-", "", "", ""])
                continue
            uptime = f"{d['uptime']:.0f}s" if d["uptime"] is not None else "-"
            state = d["state"] + (f" (exit {d['last_exit']})" if d["state"] == "failed" else "")
            rows.append([node["name"] if first else "", node["address"] if first else "",
                         role if first else "", d["daemon"].removeprefix("ganeti-"), state,
                         str(d["pid"] or "-"), str(d["restarts"]), uptime, d["started_by"]])
    click.echo()
    for line in ui.table(rows, ["NODE", "ADDRESS", "ROLE", "DAEMON", "STATE", "PID",
                                "RESTARTS", "UPTIME", "STARTED BY"], colour_column=4):
        click.echo(line)
    _echo_resources(info["nodes"])
    faults = [(n["name"], f) for n in info["nodes"] for f in n.get("faults") or []]
    if faults:
        click.echo("\nnetwork faults (undo with 'vcluster-ns net heal'):")
        for name, fault in faults:
            click.echo(f"  {name}: {ui.style(fault, 'failed')}")
    for node in info["nodes"]:
        for d in node["daemons"]:
            if d["state"] == "failed" and d.get("failure"):
                click.echo(f"\n{node['name']} {d['daemon']} failed; last log lines:")
                for line in d["failure"].splitlines():
                    click.echo(f"  {line}")


def _echo_slice(info: dict) -> None:
    """A sliced cluster: this machine's slice, its links, what Ganeti lists."""
    from .slices import describe_links
    for line in describe_links(info):
        click.echo(line)


def _echo_ganeti(ganeti_info: dict | None) -> None:
    """The header line of the installations: the release every node runs
    first (after 'gnt-cluster upgrade', the upgraded one), then the others."""
    if not ganeti_info:
        return
    installed = [{"version": ganeti_info["version"], "path": ganeti_info["path"]},
                 *(ganeti_info.get("extra") or [])]
    running = ganeti_info.get("running") or []
    if len(running) == 1:  # every node on one release: that one first
        at = next((n for n, i in enumerate(installed) if i["path"] == running[0]["path"]), None)
        installed.insert(0, {**(installed.pop(at) if at is not None else {}), **running[0]})
    shown = [f"{i['version'] or '?'} ({i['path'] or 'system'})" for i in installed]
    line = f"ganeti {shown[0]}" + "".join(f", also {s}" for s in shown[1:])
    versions = {v for v in (ganeti_info.get("node_versions") or {}).values() if v}
    if len(versions) > 1:  # a cluster half-way through gnt-cluster upgrade
        line += "; nodes on " + ", ".join(
            f"{node} {v}" for node, v in ganeti_info["node_versions"].items())
    click.echo(line)


@main.command()
@click.argument("node", shell_complete=complete_node)
@click.argument("daemon", required=False, shell_complete=complete_daemon)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines.")
@click.option("--lines", "-n", default=50, show_default=True, help="Lines per file.")
@pass_ctx
def logs(obj: Context, node, daemon, follow, lines):
    """Logs of NODE: daemon stdout/stderr and Ganeti's own log files."""
    vc = obj.cluster()
    files = vc.logs(node, daemon)
    for path in files:
        click.echo(f"==> {path} <==")
        text = path.read_text(errors="replace").splitlines()
        for line in text[-lines:]:
            click.echo(line)
    if follow:
        _follow(files)


def _follow(files: list[Path]) -> None:
    offsets = {p: p.stat().st_size for p in files}
    try:
        while True:
            for path in files:
                size = path.stat().st_size
                if size > offsets[path]:
                    with open(path, errors="replace") as fh:
                        fh.seek(offsets[path])
                        click.echo(fh.read(), nl=False)
                    offsets[path] = size
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


@main.command()
@click.option("--nodes", "-n", type=int, default=DEFAULT_NODES, show_default=True,
              help="Check resources for this many nodes.")
@click.option("--ganeti", "ganeti_tree", metavar="PATH", default=None,
              help="Check this Ganeti installation tree (the DESTDIR of 'make install') "
                   "instead of the system's: layout and version, programs, its Python "
                   "package, the Haskell daemons' shared libraries.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def doctor(nodes, ganeti_tree, as_json):
    """Check that this machine can run a cluster of N nodes; say how to fix what is not.

    Exit status 0 when nothing fails, 4 otherwise.
    """
    from . import doctor as doctor_module

    checks = doctor_module.run_checks(nodes, ganeti_tree=ganeti_tree)
    failed = any(c.status == doctor_module.FAIL for c in checks)
    if as_json:
        click.echo(json.dumps({"ok": not failed, "nodes": nodes,
                               "checks": [c.as_dict() for c in checks]}, indent=2))
    else:
        for c in checks:
            click.echo(f"{ui.style(f'[{c.status:>4}]', key=c.status)} {c.name}: {c.detail}")
            if c.fix and c.status != doctor_module.OK:
                click.echo(f"       fix: {c.fix}")
    if failed:
        sys.exit(int(ExitCode.ENVIRONMENT))


@main.command("export-logs")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@pass_ctx
def export_logs(obj: Context, directory):
    """One archive of every node's logs, supervisor.log and 'status --json'.

    Written into DIRECTORY (default: the current one), ready to attach to a
    bug report.
    """
    vc = obj.cluster()
    archive = vc.export_logs(Path(directory or os.getcwd()).absolute())
    click.echo(str(archive))


@main.command()
@pass_ctx
def down(obj: Context):
    """Stop every daemon and end the namespaces; files are kept for 'up'."""
    vc = obj.cluster()
    if vc.down():
        click.echo(f"cluster {obj.cluster_name!r} is down")
    else:
        click.echo(f"cluster {obj.cluster_name!r} was not up")


@main.command()
@click.option("--yes", is_flag=True, help="Do not ask.")
@pass_ctx
def destroy(obj: Context, yes):
    """'down', then remove the cluster directory (asks first; --yes without a terminal)."""
    vc = obj.cluster()
    if not vc.exists():
        vc.spec()  # raises "no cluster named ..."
    if not yes:
        if not sys.stdin.isatty():  # nobody to ask: a script must say so itself
            raise click.UsageError("destroy asks before removing a cluster; without a "
                                   "terminal to ask on, pass --yes")
        click.confirm(f"remove {vc.paths.dir} and everything in it?", abort=True)
    vc.destroy()
    click.echo(f"cluster {obj.cluster_name!r} destroyed")


@main.command()
@click.argument("name", required=False)
@click.option("--list", "list_", is_flag=True, help="List the snapshots under --root.")
@click.option("--delete", is_flag=True, help="Delete snapshot NAME.")
@click.option("--force", is_flag=True, help="Replace an existing snapshot NAME.")
@click.option("--stop", is_flag=True, help="If the cluster is up: down it, snapshot it, "
              "and bring it back up (otherwise an up cluster is refused).")
@click.option("--json", "as_json", is_flag=True, help="With --list: machine-readable.")
@pass_ctx
def snapshot(obj: Context, name, list_, delete, force, stop, as_json):
    """Save the cluster (down) as snapshot NAME; list or delete snapshots.

    A snapshot is a copy of the whole cluster directory: cluster.json,
    /etc, /srv, and every node's Ganeti state (configuration, certificates,
    job queue, instances' file-storage disks, sparse files kept sparse).
    Logs, pid files and sockets are left out. Snapshots live in
    <root>/.snapshots/NAME and can be restored under any cluster name.

    \b
    Examples:
      vcluster-ns down && vcluster-ns snapshot prepared
      vcluster-ns snapshot --stop prepared     # cluster up: down, copy, up again
      vcluster-ns --cluster copy up --from-snapshot prepared   # a new cluster
      vcluster-ns up --from-snapshot prepared --reset          # back to the saved state
      vcluster-ns snapshot --list
      vcluster-ns snapshot --delete prepared
    """
    from . import snapshot as snapshots

    if list_ and (name or delete):
        raise click.UsageError("--list takes no NAME")
    if not list_ and not name:
        raise click.UsageError("Missing argument 'NAME' (or give --list).")
    if (list_ or delete) and (force or stop):
        raise click.UsageError("--force and --stop are for taking a snapshot")
    if as_json and not list_:
        raise click.UsageError("--json goes with --list")
    vc = obj.cluster()
    if list_:
        _list_snapshots(snapshots.list_snapshots(vc.root), vc.root, as_json)
    elif delete:
        snapshots.delete(vc.root, name)
        click.echo(f"snapshot {name!r} deleted")
    else:
        info = vc.snapshot(name, force=force, stop=stop)
        click.echo(f"snapshot {name!r} of cluster {obj.cluster_name!r}: "
                   f"{snapshots.human_size(info.size)} in "
                   f"{time.monotonic() - obj.start:.1f}s; restore with: vcluster-ns "
                   f"--cluster NAME up --from-snapshot {name}")


def _list_snapshots(found, root: Path, as_json: bool) -> None:
    from .snapshot import human_size

    if as_json:
        click.echo(json.dumps([info.as_dict() if info else {"name": name, "corrupted": True}
                               for name, info in found], indent=2))
        return
    if not found:
        click.echo(f"no snapshots in {root}")
        return
    rows = [[name, "corrupted (delete it with --delete)", "", "", "", ""] if info is None else
            [name, info.cluster, str(info.nodes), info.network, human_size(info.size),
             time.strftime("%Y-%m-%d %H:%M", time.localtime(info.created))]
            for name, info in found]
    for line in ui.table(rows, ["NAME", "CLUSTER", "NODES", "NETWORK", "SIZE", "CREATED"]):
        click.echo(line)


@main.group(cls=Group)
def node():
    """Simulate node failures: the safe replacement for powercycle."""


@node.command("stop")
@click.argument("name", shell_complete=complete_node)
@pass_ctx
def node_stop(obj: Context, name):
    """Kill every daemon of NAME at once, as if it lost power."""
    click.echo(f"{obj.cluster().stop_node(name)} stopped")


@node.command("start")
@click.argument("name", shell_complete=complete_node)
@pass_ctx
def node_start(obj: Context, name):
    """Start NAME's daemons again."""
    click.echo(f"{obj.cluster().start_node(name)} started")


@node.command("restart")
@click.argument("name", shell_complete=complete_node)
@pass_ctx
def node_restart(obj: Context, name):
    """Power-cycle NAME safely: kill its daemons, then start them."""
    vc = obj.cluster()
    vc.stop_node(name)
    click.echo(f"{vc.start_node(name)} restarted")


@main.group(cls=Group)
def net():
    """Network faults on demand (isolated clusters); 'net heal' undoes them all.

    \b
    Examples:
      vcluster-ns net partition node3        node3 is cut off from the others
      vcluster-ns net partition node1 node2  node1+node2 vs. everyone else
      vcluster-ns net down node2             node2's link loses its carrier
      vcluster-ns net delay node2 50ms       packets to node2 wait 50 ms
      vcluster-ns net loss node2 5%          5% of packets to node2 are lost
      vcluster-ns net heal                   every fault undone

    'vcluster-ns status' lists the faults in force. See docs/faults.md.
    """


def _net(obj: Context, action: str, nodes=(), value: str | None = None) -> None:
    vc = obj.cluster()
    vc.net(action, list(nodes), value)
    if action == "heal":
        click.echo("network healed: every node back on the switch, links up, no delay or loss")
    else:
        click.echo(f"net {action} {' '.join(nodes)} {value or ''}".rstrip() + ": done")


@net.command("partition")
@click.argument("nodes", nargs=-1, required=True, shell_complete=complete_node)
@pass_ctx
def net_partition(obj: Context, nodes):
    """Cut NODES off from the rest: they reach only each other.

    Nobody else reaches them, not even the supervisor; a later partition
    takes its nodes out of any earlier one. 'net heal' undoes it.
    """
    _net(obj, "partition", nodes)


@net.command("heal")
@pass_ctx
def net_heal(obj: Context):
    """Undo every fault: partitions, links down, delay and loss."""
    _net(obj, "heal")


@net.command("down")
@click.argument("nodes", nargs=-1, required=True, shell_complete=complete_node)
@pass_ctx
def net_down(obj: Context, nodes):
    """Take NODES' links down: their eth0 loses its carrier."""
    _net(obj, "down", nodes)


@net.command("up")
@click.argument("nodes", nargs=-1, required=True, shell_complete=complete_node)
@pass_ctx
def net_up(obj: Context, nodes):
    """Bring NODES' links back up."""
    _net(obj, "up", nodes)


@net.command("delay")
@click.argument("node", shell_complete=complete_node)
@click.argument("time")
@pass_ctx
def net_delay(obj: Context, node, time):
    """Delay packets sent to NODE by TIME, such as 50ms; needs netem.

    TIME is a number with a unit: 50ms, 1.5s, 200us. Every round trip with
    NODE takes TIME longer. Needs the kernel's netem qdisc (exit 4 without it).
    """
    _net(obj, "delay", [node], time)


@net.command("loss")
@click.argument("node", shell_complete=complete_node)
@click.argument("percent")
@pass_ctx
def net_loss(obj: Context, node, percent):
    """Drop PERCENT of packets sent to NODE, such as 5%; needs netem.

    Combines with 'net delay'. Needs the kernel's netem qdisc (exit 4 without
    it).
    """
    _net(obj, "loss", [node], percent)


main.add_command(qa_command)


@main.command("link-hello", hidden=True)
@pass_ctx
def link_hello(obj: Context):
    """(Run by a joining slice through ssh.) What this master's slice is, as JSON."""
    from .slices import hello_answer, read_registry
    vc = obj.cluster()
    try:
        spec = vc.spec()
    except VclusterError as exc:
        click.echo(json.dumps({"ok": False, "error": exc.message, "hint": exc.hint}))
        return
    if spec.joins or not spec.sliced:
        click.echo(json.dumps({"ok": False, "error": f"cluster {vc.name!r} there is not "
                               "the master's slice of a sliced cluster",
                               "hint": "start it with 'up --slice 1-N', or join the "
                               "machine that runs node1"}))
        return
    token = vc.paths.link_token.read_text().strip() if vc.paths.link_token.exists() else ""
    click.echo(json.dumps(hello_answer(spec, vc.is_up(), read_registry(vc.paths.slice_registry),
                                       token, spec.ganeti_version)))


@main.command("link-plug", hidden=True)
@click.option("--slice", "slice_", required=True)
@pass_ctx
def link_plug(obj: Context, slice_):
    """(Run by a joining slice's link keeper through ssh.) Hand this
    command's stdin and stdout to the supervisor, which plugs them into the
    cluster's switch; return when the plug ends."""
    from .errors import OperationFailed
    from .slices import hand_over, register
    from .spec import parse_slice
    vc = obj.cluster()
    spec = vc.spec()
    vc.require_up()
    parse_slice(slice_, spec.nodes)
    register(vc.paths.slice_registry, slice_, os.environ.get("SSH_CLIENT", "local"))
    try:
        conn = hand_over(vc.paths.link_socket, slice_, 0, 1)
    except OSError as exc:
        raise OperationFailed(f"cannot reach the link socket: {exc}") from None
    with conn:
        while True:
            try:
                if not conn.recv(4096):
                    break
            except OSError:
                break


@main.command()
@click.argument("name", shell_complete=complete_node)
@click.argument("daemon", shell_complete=complete_daemon)
@pass_ctx
def kill(obj: Context, name, daemon):
    """Crash DAEMON on node NAME with SIGKILL (the supervisor restarts it)."""
    node, daemon = obj.cluster().kill_daemon(name, daemon)
    click.echo(f"killed {daemon} on {node}")


def entry() -> None:
    try:
        main(standalone_mode=True)
    except VclusterError as exc:  # raised outside a command (e.g. a callback)
        click.echo(f"Error: {exc.one_line()}", err=True)
        sys.exit(int(exc.exit_code))


if __name__ == "__main__":
    entry()
