"""What ``up`` checks and prepares before it starts a cluster.

Everything that can be found wrong is found before anything is created
(bad input loses nothing): the request against an existing cluster, the
Ganeti installations, user namespaces and this machine's limits, socket
path lengths, a busy ``--rapi-port``.  Then a new cluster's directory is
made whole in a staging directory and renamed into place, and every start
rewrites the files that follow the installation.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import socket

from . import launch, layout
from .errors import InvalidInput, OperationFailed
from .ganeti import daemons, install
from .layout import MAX_SOCKET_PATH, ClusterPaths
from .namespaces import probe_user_namespaces
from .spec import ClusterSpec

# How the user sets each field of an existing cluster's spec.
OPTIONS = {"nodes": "--nodes", "network": "--network", "domain": "--domain",
           "instances": "--instances", "watcher_interval": "--watcher-interval",
           "rapi_port": "--rapi-port", "network_mode": "--network-mode",
           "secondary_network": "--secondary-network", "ganeti": "--ganeti",
           "ganeti_extra": "--ganeti-extra", "slice": "--slice", "join": "--join",
           "join_command": "--join-command"}


def requested(vc, spec: ClusterSpec | None, given: set[str]) -> tuple[ClusterSpec, bool]:
    """The spec ``up`` works on, and whether the cluster is to be created:
    an existing cluster's own, if what the user gave (``given``) agrees."""
    if not vc.exists():
        return spec or ClusterSpec(name=vc.name), True
    existing = vc.spec()
    if spec is not None:
        differ = spec.differences(existing, set(given))
        if differ:
            settings = "; ".join(dict.fromkeys(
                f"{OPTIONS[f]} {shown(getattr(existing, f))}, not {shown(getattr(spec, f))}"
                if f in OPTIONS else "other cluster-file settings" for f in differ))
            raise InvalidInput(f"cluster {vc.name!r} already exists with {settings}",
                               "use --cluster OTHER for a new one, or 'vcluster-ns destroy' first")
    return existing, False


def shown(value) -> str:
    """A spec value as the user would write it."""
    if value is None or value == "" or value == ():
        return "unset"
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value)


def ganeti(vc, spec: ClusterSpec) -> None:
    """The installations ``spec`` names are complete, and the node roots
    short enough for Ganeti's unix sockets."""
    install.for_spec(spec)  # raises what is missing or wrong
    check_socket_paths(vc.paths, vc.root, spec)


def environment(vc, spec: ClusterSpec, init: bool) -> None:
    """What must hold before a cluster starts (doctor's fast checks too)."""
    if init or spec.ganeti or spec.ganeti_extra:
        install.for_spec(spec)
    probe_user_namespaces()
    from . import doctor  # imported here: every CLI call would pay for it
    doctor.require(spec.nodes)
    if init:  # with --no-init no Ganeti daemon makes a socket
        check_socket_paths(vc.paths, vc.root, spec)
    check_port_free(spec.rapi_port)


def before_start(vc, spec: ClusterSpec, init: bool, created: bool) -> ClusterSpec:
    """Check, then create the cluster if it is new; returns its spec."""
    if not created and not os.access(vc.paths.dir, os.W_OK | os.X_OK):
        raise InvalidInput(f"cluster directory {vc.paths.dir} is not writable",
                           "fix its permissions, or use another --root")
    environment(vc, spec, init)
    token = slice_checks(vc, spec, init)
    if created:
        if init and spec.ganeti_version is None:
            spec = dataclasses.replace(spec, ganeti_version=vc.installation(spec).version)
        vc.progress(f"creating cluster {vc.name!r} in {vc.paths.dir}")
        create(vc.paths, vc.root, spec)
    if token is not None:
        vc.paths.link_token.touch(mode=0o600)
        vc.paths.link_token.write_text(token + "\n")
    return spec


def slice_checks(vc, spec: ClusterSpec, init: bool) -> str | None:
    """A sliced cluster: the link's programs are here, and a joining slice
    agrees with the master's slice it joins (asked through ssh).  Returns
    the link's token to write (None: keep the one there is)."""
    if not spec.sliced:
        return None
    for program, package in (("vde_plug", "vdeplug libvdeplug-pcap"), ("ethtool", "ethtool"),
                             ("ssh", "openssh-client")):
        if shutil.which(program, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
            from .errors import EnvironmentUnsupported
            raise EnvironmentUnsupported(f"{program} is not installed (slices need it)",
                                         f"apt-get install {package}")
    if not spec.joins:
        if vc.paths.link_token.exists():
            return None
        import secrets
        return secrets.token_urlsafe(24)
    from . import slices
    answer = slices.hello(spec)
    version = extra = None
    if init:
        installation = vc.installation(spec)
        version = installation.version
        extra = [install.resolve(tree).version for tree in spec.ganeti_extra]
    slices.check_peer(spec, answer, version, extra or [])
    return answer["token"]


def check_socket_paths(paths: ClusterPaths, root, spec: ClusterSpec) -> None:
    """Ganeti's daemons make unix sockets below each node's root: a long
    --root would only fail later, inside gnt-cluster init."""
    longest = max(spec.node_names, key=len)
    path = paths.node_root(longest) / daemons.LONGEST_SOCKET
    excess = len(os.fsencode(path)) - MAX_SOCKET_PATH
    if excess > 0:
        room = len(os.fsencode(root)) - excess
        raise InvalidInput(
            f"cluster directory {paths.dir} is too long for Ganeti's unix sockets "
            f"({path} has {len(os.fsencode(path))} bytes, at most {MAX_SOCKET_PATH})",
            f"use a --root of at most {max(room, 1)} characters, or shorter names")


def check_port_free(port: int | None, host: str = "127.0.0.1") -> None:
    """A ``--rapi-port`` another program holds is refused before anything
    is made (the launcher binds it for real when the cluster starts)."""
    if not port:  # None: no forward; 0: any free port
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used: " \
                f"{exc.strerror}"
            raise InvalidInput(f"--rapi-port {port} {reason} on {host}",
                               "choose another --rapi-port, or 0 for a free one") from None


def create(paths: ClusterPaths, root, spec: ClusterSpec) -> None:
    """Made in ``.<name>.creating`` and renamed into place when whole:
    an ``up`` killed halfway leaves no directory that looks like a
    cluster, and the next ``up`` (holding the lock, so nobody else is
    creating it) clears the leftover."""
    node_defaults = {n: daemons.daemon_args(spec, n) for n in spec.node_names}
    root.mkdir(parents=True, exist_ok=True)
    if paths.dir.exists():
        raise OperationFailed(f"{paths.dir} already exists",
                              "it is not a cluster (no cluster.json): move it away")
    staging = ClusterPaths(root / f".{paths.dir.name}.creating")
    if staging.dir.exists():
        layout.remove_cluster_tree(staging)
    try:
        layout.create_cluster_tree(
            staging, spec, users=daemons.USERS, groups=daemons.GROUPS,
            node_defaults=node_defaults, os_definitions=daemons.os_definitions_dir(),
            hidden=install.STATE_DIRS)
    except OperationFailed as exc:  # name the directory the user knows
        raise OperationFailed(exc.message.replace(str(staging.dir), str(paths.dir)),
                              exc.hint) from None
    try:
        os.rename(staging.dir, paths.dir)
    except OSError as exc:
        shutil.rmtree(staging.dir, ignore_errors=True)
        raise OperationFailed(f"cannot create {paths.dir}: {exc.strerror}") from None


def start_files(vc, spec: ClusterSpec) -> None:
    """What every start writes: shims, runtime files, helper scripts, and
    the version links and OS definitions of the cluster's installation."""
    from .errors import VclusterError
    launch.write_start_files(vc.paths, spec, install.STATE_DIRS, install.DAEMON_UTIL)
    try:
        default = vc.installation(spec)
    except VclusterError:
        if spec.ganeti:  # checked before the start; gone since?
            raise
        default = None  # --no-init without Ganeti
    install.prepare_version_links(vc.paths.etc_upper,
                                  [vc.paths.node_root(n) for n in spec.node_names], default)
    install.link_host_os_definitions(vc.paths.os_dir, default)
