"""``ssh`` inside a cluster: run the command on the target virtual node.

The nodes of this machine share one filesystem and one kernel, so
"connecting" to one is entering its mount namespace with its
``GANETI_ROOTDIR``/``GANETI_HOSTNAME``.  A node of another slice (another
machine, docs/slices.md) is reached over the cluster's network, through
the link, by ``rexec``: that slice's supervisor runs the same command there.
ssh's option syntax is accepted (options are parsed and mostly ignored), a
command may come as one or many words (joined with spaces, as ssh does),
``-N`` holds the "connection" until killed or stdin closes, ``-n`` reads
stdin from /dev/null, and an unknown host gets ssh's own error and 255.

Every command Ganeti's QA runs, and many Ganeti runs itself, is an ssh to
a node, so the shim file is this module's source run under ``python -I -S``
without the package (shims/__init__.py, ``standalone_ssh``), as the
daemon-util shim is: ``run`` and what it calls use the standard library
only, and read what they need of the cluster from ``table`` (written into
the cluster's shims directory at each start).  What the table does not
name (another slice's node, the cluster's name, an unknown host) goes to
``fallback``: the same module inside the package, ``main``.
"""

import json
import os
import re
import sys

FLAGS = set("1246AaCfGgKkMNnqsTtVvXxYy")
WITH_ARGUMENT = set("BbcDEeFIiJLlmOoPpQRSWw")
SSH_FAILURE = 255


def parse(argv: list[str]) -> tuple[dict, str | None, list[str]]:
    """ssh's getopt: returns (options, destination, command words)."""
    options: dict[str, list] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        j = 1
        while j < len(arg):
            letter = arg[j]
            if letter in WITH_ARGUMENT:
                value = arg[j + 1:]
                if not value:
                    i += 1
                    if i >= len(argv):
                        raise ValueError(f"option requires an argument -- {letter}")
                    value = argv[i]
                options.setdefault(letter, []).append(value)
                break
            if letter not in FLAGS:
                raise ValueError(f"unknown option -- {letter}")
            options.setdefault(letter, []).append(True)
            j += 1
        i += 1
    if i >= len(argv):
        return options, None, []
    return options, argv[i], argv[i + 1:]


def split_destination(destination: str) -> str:
    if destination.startswith("ssh://"):
        destination = destination[len("ssh://"):]
    host = destination.rsplit("@", 1)[-1]
    if host.startswith("[") and "]" in host:
        return host[1:host.index("]")]
    return host.split(":", 1)[0] if host.count(":") == 1 else host


def exchange_node_root(script: str, source_root: str | None, target_root: str) -> str:
    """The command as the target node must see it: the caller's node root
    replaced by the target's.

    Ganeti prefixes its paths with the caller's ``GANETI_ROOTDIR`` and,
    when it sends a path to another node, swaps the root itself
    (``vcluster.ExchangeNodeRoot``).  Some commands it sends through ssh do
    not: ``gnt-cluster upgrade`` asks every node to
    ``ln -s -f -T ... <master root>/etc/ganeti/lib``, which would switch the
    master's version three times and no other node's.  On real machines the
    path is ``/etc/ganeti/lib`` everywhere; this makes it so here."""
    if not source_root or source_root == target_root:
        return script
    return re.sub(re.escape(source_root.rstrip("/")) + r"(?=[/\s'\";]|$)", target_root, script)


def table(cluster_dir):
    """What ``run`` reads of the cluster, as plain values (the standalone
    shim reads it from a JSON file): every name and address of each node of
    this machine, each one's root and anchor file, and the environment
    (nodes.process_env, ganeti.daemons.node_env) every node's process gets."""
    from .. import nodes
    from ..ganeti.daemons import NODE_ENV_DROPPED
    from .common import LOCALHOST, Cluster
    cluster = Cluster(cluster_dir)
    spec, paths = cluster.spec, cluster.paths
    hosts = {}
    for node in spec.node_names:
        for name in (node, node.split(".")[0], spec.node_ip(node), spec.node_secondary_ip(node)):
            if name is not None:
                hosts.setdefault(str(name), node)
    return {"hosts": hosts, "localhost": list(LOCALHOST),
            "roots": {n: str(paths.node_root(n)) for n in spec.node_names},
            "anchors": {n: str(paths.node_anchor_file(n)) for n in spec.node_names},
            "isolated": spec.isolated, "nsenter": nodes.NSENTER,
            "drop": [*nodes.DROPPED_PREFIXES, *NODE_ENV_DROPPED],
            "defaults": dict(nodes.DEFAULT_ENV), "forced": nodes.forced_env(paths)}


def load_table(path):
    """The table the standalone shim was written with (None: unreadable,
    so everything goes to the fallback)."""
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def error(message, code=SSH_FAILURE):
    print(f"ssh: {message}", file=sys.stderr)
    return code


def run(argv, table, fallback):
    """ssh ``argv`` to a node ``table`` names; anything else: ``fallback()``."""
    try:
        options, destination, command = parse(argv[1:])
    except ValueError as exc:
        return error(str(exc))
    if "V" in options:
        print("OpenSSH-compatible vcluster-ns shim", file=sys.stderr)
        return 0
    if destination is None:
        return error("usage: ssh [options] destination [command [argument ...]]")
    if table is None:
        return fallback()
    host = split_destination(destination)
    node = (os.environ.get("GANETI_HOSTNAME") if host in table["localhost"]
            else table["hosts"].get(host))
    if node not in table["roots"]:
        return fallback()
    return enter(table, node, options, command)


def enter(table, node, options, command):
    """Become ``node`` (of this machine) and run ``command`` there."""
    if "n" in options:
        fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(fd, 0)
    if "N" in options and not command:
        # "Hold the connection": wait for stdin to close or a signal.
        try:
            while os.read(0, 65536):
                pass
        except (KeyboardInterrupt, OSError):
            pass
        return 0
    script = exchange_node_root(" ".join(command), os.environ.get("GANETI_ROOTDIR"),
                                table["roots"][node])
    argv, env = table_command(table, node, script if command else None, os.environ)
    os.execve(table["nsenter"], argv, env)
    return SSH_FAILURE


def table_command(table, node, script, base_env):
    """argv and environment of ``script`` (None: a login shell) on ``node``:
    what ``node_command`` gives, from the table's plain values."""
    with open(table["anchors"][node]) as fh:
        namespaces = f"/proc/{int(fh.read())}/ns"
    options = [f"--mount={namespaces}/mnt"]
    if table["isolated"]:
        options += [f"--net={namespaces}/net", f"--uts={namespaces}/uts"]
    drop = tuple(table["drop"])
    env = {**table["defaults"],
           **{k: v for k, v in base_env.items() if not k.startswith(drop)},
           **table["forced"], "GANETI_ROOTDIR": table["roots"][node], "GANETI_HOSTNAME": node}
    return [table["nsenter"], *options, "--", *shell(script)], env


def shell(script):
    """bash running ``script`` in root's home (None: a login shell)."""
    return (["/bin/bash", "-c", f"cd ~ 2>/dev/null; {script}"] if script is not None
            else ["/bin/bash", "-l"])


def main(argv, cluster_dir):
    """The shim inside the package: what the standalone one falls back to."""
    return run(argv, table(cluster_dir), lambda: beyond_the_table(argv, cluster_dir))


def beyond_the_table(argv, cluster_dir):
    """Another slice's node, the cluster's name (its master), an unknown host."""
    from .common import Cluster
    options, destination, command = parse(argv[1:])
    cluster = Cluster(cluster_dir)
    host = split_destination(destination)
    node = cluster.node_for_host(host, os.environ.get("GANETI_HOSTNAME"))
    if node is None:
        if cluster.is_known_address(host):
            return error(f"connect to host {host} port 22: No route to host")
        return error(f"Could not resolve hostname {host}: Name or service not known")
    if not cluster.spec.is_local(node):
        if "n" in options:
            fd = os.open(os.devnull, os.O_RDONLY)
            os.dup2(fd, 0)
        return remote(cluster, node, " ".join(command) if command else None,
                      stdin_fd=None if ("N" in options or "n" in options) else 0)
    return enter(table(cluster_dir), node, options, command)


def node_command(paths, spec, node: str, script: str | None, base_env) -> tuple[list, dict]:
    """argv and environment of ``script`` (None: a login shell) on local
    ``node``, from inside the cluster: also what a remote caller gets."""
    from .. import nodes
    from ..ganeti.daemons import node_env
    return (nodes.nsenter(paths, node, spec.isolated, shell(script)),
            node_env(paths, node, base_env))


def localize(script: str, caller_root: str | None, paths, node: str) -> str:
    """A command from a node of another slice, as ``node`` here must see it:
    the caller's node root becomes ``node``'s (as exchange_node_root), and
    the caller's cluster directory, where Ganeti there places every other
    node's root, becomes this one's."""
    if not caller_root:
        return script
    caller_base = os.path.dirname(caller_root.rstrip("/"))
    script = exchange_node_root(script, caller_root, f"{caller_base}/{node}")
    if caller_base == str(paths.dir):
        return script
    return re.sub(re.escape(caller_base) + r"(?=/)", str(paths.dir), script)


def remote(cluster, node: str, script: str | None, stdin_fd: int | None) -> int:
    """``node`` runs on another machine: over the link (rexec.py)."""
    from .. import rexec
    token = rexec.read_token(cluster.paths.link_token)
    if token is None:
        return error(f"connect to host {node} port 22: this slice has not joined "
                     "(no link token)")
    return rexec.run(str(cluster.spec.node_ip(node)), token, node, script,
                     os.environ.get("GANETI_ROOTDIR"), stdin_fd)
