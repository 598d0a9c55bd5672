"""The on-disk tree of a cluster, and the files rendered into it.

Everything a cluster owns lives below its directory::

    <root>/<cluster>/
      cluster.json                 the spec
      supervisor.pid control.sock  present while the cluster is up
      supervisor.log console.log
      etc/                         upper layer of the cluster's private /etc:
                                   hosts, passwd, group (and whatever Ganeti
                                   renames over them)
      srv/ganeti/                  the cluster's /srv/ganeti: os/ (shipped OS
                                   definitions), file-storage/ (a mount point)
      private/                     /root, /var/lib/ganeti, /var/log/ganeti for
                                   processes without a node identity
      shims/                       executables shadowing ssh, scp, daemon-util
                                   and the reboot family inside the namespace
      ns/                          <node>.pid: the anchor holding each node's namespaces
      node1/ node2/ ...            GANETI_ROOTDIR of each node

Rendering functions are pure (text in, text out) so they are unit-tested
without touching the disk.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from pathlib import Path

from .errors import InvalidInput, OperationFailed
from .spec import ClusterSpec

NODE_SUBDIRS = (
    "etc/default",
    "etc/ganeti",
    "var/lock",
    "var/lib/ganeti",
    "var/log/ganeti",
    "var/run/ganeti",
    "file-storage",
)

# The cluster-wide file storage path Ganeti is initialised with.  It must not
# lie below /home or /root (Ganeti forbids those), so it lives in the
# cluster's private /srv; each node's mount namespace binds the node's own
# directory over it.
FILE_STORAGE_DIR = "/srv/ganeti/file-storage"
SHARED_FILE_STORAGE_DIR = "/srv/ganeti/shared-file-storage"
MAX_SOCKET_PATH = 107  # a unix socket's sun_path holds 108 bytes with the terminating NUL


@dataclasses.dataclass(frozen=True)
class ClusterPaths:
    """Every path of one cluster directory, derived from its location."""

    dir: Path

    @property
    def spec_file(self) -> Path:
        return self.dir / "cluster.json"

    @property
    def pid_file(self) -> Path:
        return self.dir / "supervisor.pid"

    @property
    def control_socket(self) -> Path:
        return self.dir / "control.sock"

    @property
    def supervisor_log(self) -> Path:
        return self.dir / "supervisor.log"

    @property
    def console_log(self) -> Path:
        return self.dir / "console.log"

    @property
    def etc_upper(self) -> Path:
        return self.dir / "etc"

    @property
    def overlay_work(self) -> Path:
        return self.dir / ".overlay-work"

    @property
    def srv(self) -> Path:
        return self.dir / "srv"

    @property
    def os_dir(self) -> Path:
        return self.srv / "ganeti" / "os"

    @property
    def private(self) -> Path:
        return self.dir / "private"

    @property
    def empty_ssl_certs(self) -> Path:
        """Mounted over /etc/ssl/certs inside: see mounts.py."""
        return self.private / "ssl-certs"

    @property
    def shims(self) -> Path:
        return self.dir / "shims"

    @property
    def tmp(self) -> Path:
        """The cluster's /tmp (every node's)."""
        return self.dir / "tmp"

    @property
    def ns_dir(self) -> Path:
        return self.dir / "ns"

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    # -- slices (slices.py, linkserve.py) -----------------------------------
    @property
    def link_socket(self) -> Path:
        """Where the supervisor takes the streams of the link's transports."""
        return self.dir / "link.sock"

    @property
    def link_state(self) -> Path:
        """The link keeper's state (a joining slice)."""
        return self.dir / "link-state.json"

    @property
    def link_log(self) -> Path:
        return self.logs / "link.log"

    @property
    def link_token(self) -> Path:
        """The secret that commands across slices must show (rexec.py)."""
        return self.dir / "link.token"

    @property
    def slice_registry(self) -> Path:
        """The master's slice: the slices that joined it."""
        return self.dir / "slices.json"

    @property
    def sysrq_tripwire(self) -> Path:
        return self.dir / "sysrq-trigger"

    @property
    def rapi_port_file(self) -> Path:
        return self.dir / "rapi.port"

    @property
    def rapi_password_file(self) -> Path:
        return self.dir / "rapi-password"

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    @property
    def seeded_file(self) -> Path:
        """Written once ``up`` has created a cluster file's instances."""
        return self.dir / "seeded"

    def private_dir(self, target: str) -> Path:
        """The cluster's own directory shown at the host's ``target``
        (``/var/lib/ganeti`` -> ``private/var-lib-ganeti``)."""
        return self.private / target.strip("/").replace("/", "-")

    @property
    def unfinished_init(self) -> Path:
        """Present while Ganeti's init runs, and after it was interrupted."""
        return self.dir / "init-unfinished"

    @property
    def unfinished_join(self) -> Path:
        """Present while a linear join (ganeti/join.py) may leave nodes
        offline, and after it was interrupted."""
        return self.dir / "join-unfinished"

    def node_root(self, node: str) -> Path:
        return self.dir / node

    def node_anchor_file(self, node: str) -> Path:
        """Pid (inside the cluster) of the process holding the node's namespaces."""
        return self.ns_dir / f"{node}.pid"

    def node_log_dir(self, node: str) -> Path:
        return self.logs / node


# -- rendering (pure) -------------------------------------------------------

def render_hosts(spec: ClusterSpec) -> str:
    lines = [
        "# Generated by vcluster-ns: private to the cluster's namespaces.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
    ]

    def line(ip, fqdn: str) -> str:
        short = fqdn.split(".")[0]
        names = fqdn if short == fqdn else f"{fqdn} {short}"
        return f"{ip}\t{names}"

    lines.append(line(spec.cluster_ip, spec.cluster_fqdn))
    lines += [line(ip, n) for n, ip in spec.all_node_ips.items()]
    lines += [line(ip, n) for n, ip in spec.instance_ips.items()]
    return "\n".join(lines) + "\n"


def render_passwd(host_passwd: str, users: list[str]) -> str:
    """Host passwd with every given user mapped to uid/gid 0.

    Ganeti's daemons check that they run as their own user; inside the user
    namespace only uid 0 exists, so every Ganeti user must *be* uid 0.
    """
    out, seen = [], set()
    for raw in host_passwd.splitlines():
        fields = raw.split(":")
        if len(fields) == 7 and fields[0] in users:
            fields[2] = fields[3] = "0"
            seen.add(fields[0])
            raw = ":".join(fields)
        out.append(raw)
    for user in users:
        if user not in seen:
            out.append(f"{user}:x:0:0::/var/lib/ganeti:/usr/sbin/nologin")
    return "\n".join(out) + "\n"


def render_group(host_group: str, groups: list[str]) -> str:
    """Host group file with every given group mapped to gid 0."""
    out, seen = [], set()
    for raw in host_group.splitlines():
        fields = raw.split(":")
        if len(fields) == 4 and fields[0] in groups:
            fields[2] = "0"
            seen.add(fields[0])
            raw = ":".join(fields)
        out.append(raw)
    for group in groups:
        if group not in seen:
            out.append(f"{group}:x:0:")
    return "\n".join(out) + "\n"


def render_defaults(daemon_args: dict[str, str]) -> str:
    """``etc/default/ganeti`` as read by Ganeti's daemon-util."""
    lines = ["# Generated by vcluster-ns."]
    lines += [f"{key}='{value}'" for key, value in daemon_args.items()]
    return "\n".join(lines) + "\n"


# -- the tree ---------------------------------------------------------------

def check_root(root: Path) -> Path:
    """Validate the directory that holds clusters (``--root``)."""
    if not root.is_absolute():
        raise InvalidInput(
            f"--root {str(root)!r} is a relative path", "give an absolute directory"
        )
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"--root {root} is not a directory", "give a directory")
    probe = root
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InvalidInput(
            f"--root {root}: {probe} is not writable",
            "choose a directory you own, e.g. under $HOME",
        )
    return root


def create_cluster_tree(
    paths: ClusterPaths,
    spec: ClusterSpec,
    *,
    users: list[str],
    groups: list[str],
    node_defaults: dict[str, dict[str, str]],
    os_definitions: Path,
    hidden: list[str] = (),
) -> None:
    """Create a new cluster directory; on any failure remove what was made.

    ``node_defaults`` maps each node to its ``etc/default/ganeti`` variables;
    ``hidden``: host directories the cluster has its own of (mounts.py).
    """
    import shutil  # here, not at the top: `vcluster-ns run` never needs it
    try:
        paths.dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise OperationFailed(f"{paths.dir} already exists") from None
    except OSError as exc:
        raise OperationFailed(
            f"cannot create {paths.dir}: {exc.strerror}",
            "check that --root is writable and has free space",
        ) from None
    try:
        _populate(paths, spec, users, groups, node_defaults, os_definitions)
        ensure_runtime_files(paths, hidden)
        spec.save(paths.spec_file)  # last: its presence means "complete"
    except (OSError, shutil.Error) as exc:
        shutil.rmtree(paths.dir, ignore_errors=True)
        raise OperationFailed(
            f"cannot create cluster in {paths.dir}: {_reason(exc)}",
            "check free space and permissions of --root",
        ) from None
    except BaseException:
        shutil.rmtree(paths.dir, ignore_errors=True)
        raise


def _reason(exc: OSError) -> str:
    """A short reason: copytree's shutil.Error carries a list of (src, dst, why)."""
    import shutil
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        why = str(exc.args[0][0][2])
        return why.split("] ", 1)[-1].split(":")[0]
    return exc.strerror or str(exc)


def _populate(paths, spec, users, groups, node_defaults, os_definitions) -> None:
    import secrets
    import shutil
    (paths.dir / "tmp").mkdir(mode=0o1777)
    os.chmod(paths.dir / "tmp", 0o1777)
    for sub in (paths.etc_upper, paths.overlay_work, paths.shims, paths.ns_dir,
                paths.logs, paths.srv / "ganeti" / "file-storage",
                paths.srv / "ganeti" / "shared-file-storage"):
        sub.mkdir(parents=True, exist_ok=True)
    paths.empty_ssl_certs.mkdir(parents=True)
    shutil.copytree(os_definitions, paths.os_dir, symlinks=True)
    write_etc_files(paths, spec, users, groups)
    paths.console_log.touch()
    paths.sysrq_tripwire.touch()
    paths.rapi_password_file.touch(mode=0o600)
    paths.rapi_password_file.write_text(secrets.token_urlsafe(18) + "\n")
    for node in spec.node_names:
        create_node_tree(paths, node, node_defaults[node])


def ensure_runtime_files(paths: ClusterPaths, hidden: list[str] = ()) -> None:
    """Files every start needs (also for clusters made by an older version);
    ``hidden``: host directories the cluster has its own of (mounts.py)."""
    (paths.dir / "tmp").mkdir(mode=0o1777, exist_ok=True)
    paths.empty_ssl_certs.mkdir(parents=True, exist_ok=True)
    for target in (*hidden, "/root"):
        paths.private_dir(target).mkdir(parents=True, exist_ok=True)
    for path in (paths.console_log, paths.sysrq_tripwire):
        path.touch()


HELPER_SCRIPTS = {
    # name: (what it does, body after the common head)
    "cmd": ("run a command on a node: ./cmd NODE COMMAND...", '"$@"'),
    "start-all": ("start every node's daemons", "daemon-util start-all"),
    "stop-all": ("stop every node's daemons", "daemon-util stop-all"),
    "restart-all": ("restart every node's daemons", "daemon-util stop-all, then start-all"),
    "watcher-all": ("run ganeti-watcher on every node", "ganeti-watcher"),
}


def render_helper_script(name: str, vcluster_ns: list[str], root: Path, cluster: str,
                         nodes: list[str], daemon_util: str) -> str:
    """The helper scripts Ganeti's vcluster-setup writes, working through
    vcluster-ns (``daemon_util``: the path of Ganeti's daemon-util)."""
    what, body = HELPER_SCRIPTS[name]
    run = " ".join(shlex.quote(a) for a in vcluster_ns) + \
        f" --root {shlex.quote(str(root))} --cluster {shlex.quote(cluster)} run"
    head = f"#!/bin/sh\n# {name}: {what} (vcluster-setup's helper, written by vcluster-ns)\nset -e\n"
    if name == "cmd":
        return head + f"exec {run} {body}\n"
    if name == "restart-all":
        lines = [f"{run} {n} {daemon_util} stop-all" for n in nodes]
        lines += [f"{run} {n} {daemon_util} start-all" for n in nodes]
        return head + "\n".join(lines) + "\n"
    program = body.replace("daemon-util", daemon_util, 1) if body.startswith("daemon-util") \
        else body
    return head + "\n".join(f"{run} {n} {program}" for n in nodes) + "\n"


def render_node_cmd(vcluster_ns: list[str], root: Path, cluster: str, node: str) -> str:
    """vcluster-setup's per-node ``<cluster>/<node>/cmd``: ``bash -c "$*"`` as
    that node.  Ganeti's QA, in its virtual-cluster mode, runs every command
    on node N as ``ssh <vcluster-master> <basedir>/N/cmd 'COMMAND'``.

    Inside the cluster (where ssh is vcluster-ns's shim) it enters the node
    with the shim, unless it already runs as that node (``GANETI_HOSTNAME``,
    which the shim sets): QA sends nearly every command to the master
    through the master (639 of 657 in a whole run), and the second hop to
    the same node cost a shim start each (180 ms at load 8 here); on the
    host, with ``vcluster-ns run``."""
    run = " ".join(shlex.quote(a) for a in vcluster_ns) + \
        f" --root {shlex.quote(str(root))} --cluster {shlex.quote(cluster)} run"
    q = shlex.quote(node)
    return (
        f"#!/bin/sh\n# cmd: run a command on {node}: ./cmd COMMAND... (vcluster-setup's "
        "per-node helper, written by vcluster-ns)\n"
        "if grep -qs vcluster_ns.shims /usr/bin/ssh; then\n"
        f"    if [ \"$GANETI_HOSTNAME\" = {q} ]; then exec /bin/bash -c \"$*\"; fi\n"
        f"    exec /usr/bin/ssh {q} \"$*\"\n"
        "fi\n"
        f"exec {run} {q} /bin/bash -c \"$*\"\n"
    )


def write_helper_scripts(paths: ClusterPaths, spec: ClusterSpec, vcluster_ns: list[str],
                         daemon_util: str) -> None:
    for name in HELPER_SCRIPTS:
        path = paths.dir / name
        path.write_text(render_helper_script(name, vcluster_ns, paths.dir.parent,
                                             spec.name, spec.node_names, daemon_util))
        path.chmod(0o755)
    for node in spec.node_names:
        path = paths.node_root(node) / "cmd"
        path.write_text(render_node_cmd(vcluster_ns, paths.dir.parent, spec.name, node))
        path.chmod(0o755)


def write_etc_files(paths: ClusterPaths, spec: ClusterSpec,
                    users: list[str], groups: list[str]) -> None:
    (paths.etc_upper / "hosts").write_text(render_hosts(spec))
    (paths.etc_upper / "passwd").write_text(
        render_passwd(Path("/etc/passwd").read_text(), users))
    (paths.etc_upper / "group").write_text(
        render_group(Path("/etc/group").read_text(), groups))


def create_node_tree(paths: ClusterPaths, node: str, defaults: dict[str, str]) -> None:
    root = paths.node_root(node)
    for sub in NODE_SUBDIRS:
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "etc/default/ganeti").write_text(render_defaults(defaults))
    (root / "etc/ganeti/file-storage-paths").write_text(
        f"{FILE_STORAGE_DIR}\n{SHARED_FILE_STORAGE_DIR}\n")
    paths.node_log_dir(node).mkdir(parents=True, exist_ok=True)


def remove_cluster_tree(paths: ClusterPaths) -> None:
    # The kernel leaves overlayfs's work/work directory with mode 000; open
    # every directory up for its owner first, or rmtree cannot descend.
    for top, dirs, _ in os.walk(paths.dir):
        for name in dirs:
            path = os.path.join(top, name)
            if not os.path.islink(path):
                os.chmod(path, 0o700)
    import shutil
    shutil.rmtree(paths.dir)
