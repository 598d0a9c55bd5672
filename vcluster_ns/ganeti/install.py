"""Which Ganeti a cluster runs: the system's, or a developer's installation tree.

Ganeti installs every version side by side and picks one with two links::

    /usr/lib/ganeti/<version>/...     Haskell daemons, daemon-util, htools
    /usr/share/ganeti/<version>/...   Python package, noded, rapi, gnt-* scripts
    /usr/lib/ganeti/default  -> /etc/ganeti/lib   -> /usr/lib/ganeti/<version>
    /usr/share/ganeti/default -> /etc/ganeti/share -> /usr/share/ganeti/<version>

and ``/usr/sbin/gnt-*``, ``/usr/bin/h*`` and ``/usr/lib/ganeti/*`` lead
through ``default``.  ``gnt-cluster upgrade --to VERSION`` switches the two
``/etc/ganeti`` links on every node.

An ``Installation`` is one such ``/usr`` hierarchy: ``/`` for the system
(Debian's packages), or the DESTDIR of ``make install`` (``--ganeti PATH``).
Inside a cluster a tree's ``usr`` is laid over the host's ``/usr`` (see
mounts.py), so Ganeti finds its files at its own paths and nothing here
rewrites them; what this module knows is where the files are *on the host*,
which version a tree holds (read from the tree, never assumed), which
daemons it has and which options its commands accept.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from ..errors import EnvironmentUnsupported, InvalidInput

SYSTEM = Path("/")
PKGLIBDIR = "/usr/lib/ganeti"
SHAREDIR = "/usr/share/ganeti"
SBIN = "/usr/sbin"
# Paths inside a cluster: the same for every installation (the tree is laid
# over /usr), and they follow the node's /etc/ganeti version links.
DAEMON_UTIL = f"{PKGLIBDIR}/daemon-util"
ENSURE_DIRS = f"{PKGLIBDIR}/ensure-dirs"
WATCHER = f"{SBIN}/ganeti-watcher"
# The real daemon-util of the node's current version (the plain path is
# shadowed by vcluster-ns's shim).
VERSIONED_DAEMON_UTIL = f"{PKGLIBDIR}/default{PKGLIBDIR}/daemon-util"
# The host's Ganeti state and logs (a host that runs Ganeti itself has
# them): the cluster's processes without a node identity see empty
# directories of the cluster's own there instead (see mounts.py).
STATE_DIRS = ("/var/lib/ganeti", "/var/log/ganeti")

# Where each daemon lives below a version's directories: Python daemons in
# the share directory, Haskell ones below the lib directory.
PYTHON_DAEMONS = ("ganeti-noded", "ganeti-rapi")
HASKELL_DAEMONS = ("ganeti-confd", "ganeti-wconfd", "ganeti-luxid", "ganeti-mond",
                   "ganeti-metad", "ganeti-kvmd")
# Without these there is no cluster; mond, metad and kvmd are optional builds.
REQUIRED_DAEMONS = ("ganeti-noded", "ganeti-confd", "ganeti-wconfd", "ganeti-luxid",
                    "ganeti-rapi")
REQUIRED_SCRIPTS = ("gnt-cluster", "gnt-node", "gnt-instance", "ensure-dirs",
                    "node-daemon-setup", "ganeti-watcher")

_CONSTANT = re.compile(r'^(RELEASE_VERSION|DIR_VERSION)\s*=\s*"([^"]+)"', re.M)
_VERSION_DIR = re.compile(r"^\d+\.\d+")


@dataclasses.dataclass(frozen=True)
class Installation:
    """One Ganeti ``/usr`` hierarchy and the version it holds."""

    root: Path            # "/" for the system, else the DESTDIR tree
    version: str          # RELEASE_VERSION, e.g. "3.0.2"
    dir_version: str      # DIR_VERSION: the name of its versioned directories, "3.0"

    @property
    def is_system(self) -> bool:
        return self.root == SYSTEM

    def host_path(self, path: str) -> Path:
        """Where Ganeti's absolute ``path`` of this installation is on the host."""
        return self.root / path.lstrip("/")

    @property
    def lib_dir(self) -> Path:
        return self.host_path(f"{PKGLIBDIR}/{self.dir_version}")

    @property
    def share_dir(self) -> Path:
        return self.host_path(f"{SHAREDIR}/{self.dir_version}")

    @property
    def python_package(self) -> Path:
        return self.share_dir / "ganeti"

    def daemon_program(self, daemon: str) -> Path:
        """The daemon's real file on the host."""
        if daemon in PYTHON_DAEMONS or daemon == "ganeti-watcher":
            return self.share_dir / daemon
        return self.lib_dir / SBIN.lstrip("/") / daemon

    def script(self, name: str) -> Path:
        return self.share_dir / name

    def has_daemon(self, daemon: str) -> bool:
        return self.daemon_program(daemon).exists()

    def missing(self) -> list[str]:
        """The programs a cluster needs that this installation lacks (host paths)."""
        wanted = [self.daemon_program(d) for d in REQUIRED_DAEMONS]
        wanted += [self.script(s) if s != "ganeti-watcher" else self.daemon_program(s)
                   for s in REQUIRED_SCRIPTS]
        wanted.append(self.lib_dir / PKGLIBDIR.lstrip("/") / "daemon-util")
        return [str(p) for p in wanted if not p.exists()]

    def interpreter(self) -> str | None:
        """The Python its scripts name in their ``#!`` line."""
        try:
            with open(self.script("gnt-cluster"), "rb") as fh:
                first = fh.readline().decode(errors="replace")
        except OSError:
            return None
        if not first.startswith("#!"):
            return None
        return first[2:].split()[0] if first[2:].split() else None

    def accepts(self, command: str, option: str) -> bool:
        """Does this version's ``command`` (``gnt-instance``, ...) honour ``option``?

        Read from its client modules: options come and go between versions
        (3.1 made ``gnt-instance add --no-name-check`` a deprecated no-op that
        only warns: that counts as not accepted)."""
        module = self.python_package / "client" / (command.replace("-", "_") + ".py")
        name = f'"--{option.lstrip("-")}"'
        for source in (module, self.python_package / "cli_opts.py",
                       self.python_package / "cli.py"):
            try:
                text = source.read_text(errors="replace")
            except OSError:
                continue
            at = text.find(name)
            if at < 0:
                continue
            definition = text[at:].split("cli_option(", 1)[0]
            return "WarnDeprecatedOption" not in definition
        return False

    def qa_dir(self) -> Path | None:
        """Ganeti's QA suite (``ganeti-qa.py``) for this installation, if it
        has one: Debian's ganeti-testsuite installs it below the share
        directory; ``make install`` of a source tree does not (its ``qa/``
        stays in the checkout)."""
        for candidate in (self.host_path(f"{SHAREDIR}/testsuite/qa"),
                          self.share_dir / "qa"):
            if (candidate / "ganeti-qa.py").is_file():
                return candidate
        return None

    def os_search_path(self) -> list[str]:
        """Where this build looks for OS definitions (``OS_SEARCH_PATH``):
        Debian's adds /usr/share/ganeti/os; a plain source build has only
        /srv/ganeti/os."""
        try:
            text = (self.python_package / "_constants.py").read_text(errors="replace")
        except OSError:
            return []
        found = re.search(r"^OS_SEARCH_PATH\s*=\s*\[(.*)\]", text, re.M)
        return re.findall(r'"([^"]+)"', found.group(1)) if found else []

    def instance_add_no_checks(self) -> list[str]:
        """What ``gnt-instance add`` needs for names not in DNS: 3.0 checks
        names and IPs unless told not to; 3.1 checks neither by default and
        only warns about the two options."""
        return [o for o in ("--no-name-check", "--no-ip-check")
                if self.accepts("gnt-instance", o)]

    def as_json(self) -> dict:
        return {"path": None if self.is_system else str(self.root), "version": self.version}

    def describe(self) -> str:
        where = "the system's" if self.is_system else str(self.root)
        return f"Ganeti {self.version} ({where})"


def read_version(share_version_dir: Path) -> tuple[str, str] | None:
    """(RELEASE_VERSION, DIR_VERSION) from a version directory's Python package."""
    try:
        text = (share_version_dir / "ganeti" / "_constants.py").read_text(errors="replace")
    except OSError:
        return None
    found = dict(_CONSTANT.findall(text))
    if "RELEASE_VERSION" not in found or "DIR_VERSION" not in found:
        return None
    return found["RELEASE_VERSION"], found["DIR_VERSION"]


def complete_versions(root: Path) -> dict[str, str]:
    """Versioned directories present in both lib and share: dir version -> release."""
    share = root / SHAREDIR.lstrip("/")
    lib = root / PKGLIBDIR.lstrip("/")
    found = {}
    try:
        names = sorted(os.listdir(share))
    except OSError:
        return found
    for name in names:
        if not _VERSION_DIR.match(name) or not (lib / name).is_dir():
            continue
        version = read_version(share / name)
        if version and version[1] == name:
            found[name] = version[0]
    return found


def _linked_version(root: Path) -> str | None:
    """The version a tree's own ``etc/ganeti/lib`` link selects, if it has one."""
    try:
        return os.path.basename(os.readlink(root / "etc/ganeti/lib"))
    except OSError:
        return None


def _system_unchecked() -> Installation | None:
    """The host's installation, the version its /etc/ganeti/lib selects
    (None: no version with its Python package)."""
    found = complete_versions(SYSTEM)
    if not found:
        return None
    chosen = _linked_version(SYSTEM)
    if chosen not in found:
        chosen = sorted(found, key=_version_key)[-1]
    return Installation(SYSTEM, found[chosen], chosen)


def system_missing() -> list[str]:
    """What the system's installation lacks for a cluster (empty: nothing)."""
    inst = _system_unchecked()
    if inst is None:
        return [f"{SHAREDIR}/VERSION/ganeti"]
    return missing_links(inst) + inst.missing()


def system() -> Installation:
    """Ganeti as installed on the host, checked complete."""
    inst = _system_unchecked()
    if inst is None:
        raise EnvironmentUnsupported(
            "Ganeti is not installed (no version under /usr/share/ganeti with its "
            "Python package)",
            "install the Debian packages: apt-get install ganeti ganeti-os-noop, "
            "or give your own build with --ganeti PATH")
    missing = system_missing()
    if missing:
        raise EnvironmentUnsupported(
            f"Ganeti is not installed ({missing[0]} is missing)",
            "install the Debian packages: apt-get install ganeti ganeti-os-noop")
    return inst


def from_tree(path: str | os.PathLike, option: str = "--ganeti") -> Installation:
    """The installation in a ``make install DESTDIR=PATH`` tree (validated).
    ``option``: how the user named it, for the error messages."""
    root = Path(os.path.abspath(os.path.expanduser(str(path))))
    hint = ("give the DESTDIR of Ganeti's 'make install' (it holds usr/lib/ganeti/VERSION "
            "and usr/share/ganeti/VERSION)")
    if not root.is_dir():
        raise InvalidInput(f"{option} {path}: no such directory", hint)
    if not (root / "usr").is_dir():
        raise InvalidInput(f"{option} {path} is not a Ganeti installation tree "
                           f"(it has no usr/ directory)", hint)
    found = complete_versions(root)
    if not found:
        partial = sorted(p.name for p in (root / SHAREDIR.lstrip("/")).glob("*")
                         if p.is_dir()) if (root / SHAREDIR.lstrip("/")).is_dir() else []
        what = (f"usr/share/ganeti holds {', '.join(partial)} but no version with "
                "both its lib directory and ganeti/_constants.py") if partial else \
            "it has no usr/share/ganeti/VERSION/ganeti/_constants.py"
        raise InvalidInput(f"{option} {path}: layout not recognised ({what})", hint)
    if len(found) > 1:
        chosen = _linked_version(root)
        if chosen not in found:
            raise InvalidInput(
                f"{option} {path} holds several versions ({', '.join(sorted(found))}) "
                "and no etc/ganeti/lib link that chooses one",
                "give one tree per version; more go with --ganeti-extra")
    else:
        chosen = next(iter(found))
    inst = Installation(root, found[chosen], chosen)
    missing = inst.missing() + [str(root / link.lstrip("/")) for link in missing_links(inst)]
    if missing:
        rel = [os.path.relpath(m, root) for m in missing]
        raise InvalidInput(
            f"{option} {path}: Ganeti {inst.version} lacks {rel[0]}"
            + (f" and {len(rel) - 1} more" if len(rel) > 1 else ""),
            "finish 'make install DESTDIR=...' or run 'vcluster-ns doctor --ganeti PATH'")
    return inst


def resolve(path: str | None) -> Installation:
    return system() if path is None else from_tree(path)


def check_extras(default: Installation, extras: list[Installation]) -> None:
    """Extra trees must each bring a version of their own."""
    seen = {default.dir_version: default}
    for extra in extras:
        if extra.dir_version in seen:
            other = seen[extra.dir_version]
            raise InvalidInput(
                f"--ganeti-extra {extra.root} holds Ganeti {extra.dir_version}, "
                f"the same version as {other.describe()}",
                "an extra tree must hold another version (its usr/lib/ganeti/VERSION "
                "directory name)")
        seen[extra.dir_version] = extra


def spec_fields(tree: str | None, extra_trees: list[str]) -> dict:
    """The ClusterSpec fields for ``--ganeti TREE --ganeti-extra ...``, checked."""
    default = resolve(tree)
    extras = [from_tree(t, "--ganeti-extra") for t in extra_trees]
    check_extras(default, extras)
    return {"ganeti": None if default.is_system else str(default.root),
            "ganeti_version": default.version,
            "ganeti_extra": tuple(str(e.root) for e in extras)}


def for_spec(spec) -> tuple[Installation, list[Installation]]:
    """The default and extra installations a cluster's spec names (checked)."""
    return resolve(spec.ganeti), [from_tree(t, "--ganeti-extra") for t in spec.ganeti_extra]


def _version_key(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.~-]", text))


# -- inside a cluster -----------------------------------------------------
# Links every Ganeti program is reached through; a tree without them uses
# the host's (same targets), so one of the two must have each.
PUBLIC_LINKS = (f"{SBIN}/ganeti-noded", f"{SBIN}/gnt-cluster", f"{PKGLIBDIR}/daemon-util",
                f"{PKGLIBDIR}/ensure-dirs", f"{PKGLIBDIR}/default", f"{SHAREDIR}/default")
ETC_GANETI = "/etc/ganeti"


def missing_links(installation: Installation) -> list[str]:
    """Public links neither the tree nor the host provides."""
    return [link for link in PUBLIC_LINKS
            if not os.path.lexists(installation.host_path(link)) and not os.path.lexists(link)]


def usr_layers(spec) -> list[str]:
    """Directories to lay over the host's /usr, topmost first: the trees a
    cluster's spec names (none for the system's installation alone).  Read
    from the spec as it is: ``up`` checked the trees before recording them."""
    return [os.path.join(tree, "usr") for tree in (spec.ganeti, *spec.ganeti_extra) if tree]


def node_binds(node_root: Path) -> list[tuple[str, str]]:
    """Each node's own /etc/ganeti: its version links (``lib``, ``share``) are
    the node's, as on real machines, so that ``gnt-cluster upgrade`` (which
    switches ``$GANETI_ROOTDIR/etc/ganeti/{lib,share}``) moves node by node."""
    return [(str(node_root / ETC_GANETI.lstrip("/")), ETC_GANETI)]


def write_version_links(etc_ganeti: Path, installation: Installation,
                        replace: bool = False) -> None:
    """``lib`` and ``share`` in ``etc_ganeti`` for ``installation``'s version.

    Existing links are kept unless ``replace``: after ``gnt-cluster upgrade``
    they name the version the node was switched to."""
    etc_ganeti.mkdir(parents=True, exist_ok=True)
    for name, base in (("lib", PKGLIBDIR), ("share", SHAREDIR)):
        link = etc_ganeti / name
        if os.path.lexists(link):
            if not replace:
                continue
            link.unlink()
        link.symlink_to(f"{base}/{installation.dir_version}")


def linked_version(etc_ganeti: Path) -> str | None:
    """The version directory a node's ``lib`` link selects."""
    try:
        return os.path.basename(os.readlink(etc_ganeti / "lib"))
    except OSError:
        return None


def prepare_version_links(cluster_etc: Path, node_roots: list[Path],
                          default: Installation | None) -> None:
    """The version links of the cluster's /etc/ganeti (following the default
    installation) and of every node (kept once made: ``gnt-cluster upgrade``
    moves them).  Without an installation (``--no-init`` on a machine
    without Ganeti) only the directories, which the node binds need."""
    etc_ganeti = cluster_etc / "ganeti"
    etc_ganeti.mkdir(parents=True, exist_ok=True)
    for root in node_roots:
        (root / ETC_GANETI.lstrip("/")).mkdir(parents=True, exist_ok=True)
    if default is None:
        return
    write_version_links(etc_ganeti, default, replace=True)
    for root in node_roots:
        write_version_links(root / ETC_GANETI.lstrip("/"), default)


def status(spec, node_roots: dict[str, Path]) -> dict:
    """What ``status`` shows of a cluster's Ganeti: path and version of the
    default and extra trees, the version each node's links select, and
    ``running``: the releases the nodes run (after ``gnt-cluster upgrade``
    the extra tree's, not the default's), each with its tree (None: the
    system's)."""
    extras = []
    for tree in spec.ganeti_extra:
        version = None
        for share in sorted(Path(tree, SHAREDIR.lstrip("/")).glob("*")):
            found = read_version(share)
            version = found[0] if found and found[1] == share.name else version
        extras.append({"path": tree, "version": version})
    node_versions = {node: linked_version(root / ETC_GANETI.lstrip("/"))
                     for node, root in node_roots.items()}
    releases: dict[str, dict] = {}  # dir version -> release and tree
    for tree in (spec.ganeti, *spec.ganeti_extra):
        for dir_version, release in complete_versions(Path(tree) if tree else SYSTEM).items():
            releases.setdefault(dir_version, {"version": release, "path": tree})
    running = []
    for dir_version in dict.fromkeys(v for v in node_versions.values() if v):
        entry = releases.get(dir_version, {"version": dir_version, "path": None})
        if entry not in running:
            running.append(entry)
    return {"path": spec.ganeti, "version": spec.ganeti_version, "extra": extras,
            "node_versions": node_versions, "running": running}


# Where packaged OS definitions live (Debian's ganeti-os-noop: the first).
# A source build's OS search path is only /srv/ganeti/os, which a cluster
# has of its own, so those found here are linked into it.
HOST_OS_DIRS = ("/usr/share/ganeti/os", "/usr/lib/ganeti/os", "/usr/local/lib/ganeti/os")


def link_host_os_definitions(cluster_os_dir: Path, installation: Installation | None,
                             host_dirs=HOST_OS_DIRS) -> list[str]:
    """Link the host's OS definitions into the cluster's /srv/ganeti/os
    (those it does not have already), from the directories the
    installation does not search itself: Ganeti reports an OS found twice
    ("has multiple entries") as an error.  Returns the names linked."""
    linked = []
    cluster_os_dir.mkdir(parents=True, exist_ok=True)
    if installation is None:
        return linked
    searched = set(installation.os_search_path())
    for directory in host_dirs:
        if directory in searched:
            continue
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            target = cluster_os_dir / name
            if os.path.lexists(target) or not os.path.isdir(os.path.join(directory, name)):
                continue
            target.symlink_to(os.path.join(directory, name))
            linked.append(name)
    return linked
