"""Ganeti's own QA (``qa/ganeti-qa.py``) on a virtual cluster: the pure part.

What ``vcluster-ns qa`` needs, without running anything:

* where an installation keeps its QA and which Python runs it
  (``qa_installation``, the one place that knows those paths);
* which QA tests exist (the keys of the QA config's ``"tests"``, read from
  ``ganeti-qa.py`` itself), which a virtual cluster cannot run (``SKIPS``,
  each with its reason), and the selection ``--only``/``--skip`` make;
* the QA config for a cluster (``build_config``), in QA's virtual-cluster
  mode: QA reaches node N as ``ssh <vcluster-master> <basedir>/N/cmd CMD``;
* reading QA's output (``QaOutput``): the header lines ``RunTest`` prints
  around every test, plus the lines ``qa_driver.py`` adds;
* the summary rows and the JUnit XML of one or several QA runs.

The commands that bring clusters up and run QA are in qa_run.py.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .errors import InvalidInput
from .layout import FILE_STORAGE_DIR, SHARED_FILE_STORAGE_DIR

# -- the installation --------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class QaInstallation:
    """Ganeti's QA directory and how to run its ``ganeti-qa.py``."""

    qa_dir: Path            # holds ganeti-qa.py and the qa_*.py modules
    python: str             # the Python Ganeti's own programs use
    pythonpath: tuple[str, ...]  # where ``import ganeti`` is found
    # QA runs <qa_dir>/../tools/burnin, a source tree's layout; an installed
    # QA (Debian's ganeti-testsuite) has no tools/ next to it: then the
    # installed burnin, which ``staged`` puts where QA looks.
    burnin: Path | None = None

    @property
    def script(self) -> Path:
        return self.qa_dir / "ganeti-qa.py"

    def staged(self, dest: Path) -> "QaInstallation":
        """This QA as QA expects to sit: a copy of its directory in
        ``dest/qa`` with ``dest/tools/burnin`` next to it (only when the
        installation's layout lacks it; else itself)."""
        if self.burnin is None or (self.qa_dir.parent / "tools/burnin").exists():
            return self
        import shutil
        shutil.copytree(self.qa_dir, dest / "qa", symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        (dest / "tools").mkdir(exist_ok=True)
        (dest / "tools/burnin").symlink_to(self.burnin)
        return dataclasses.replace(self, qa_dir=dest / "qa", burnin=None)

    def missing(self) -> str | None:
        """What is missing to run QA, or None."""
        if not self.script.is_file():
            return f"Ganeti's QA suite ({self.script}) is not installed"
        if not any((Path(p) / "ganeti").is_dir() for p in self.pythonpath):
            return f"Ganeti's Python package is not in {':'.join(self.pythonpath)}"
        return None


def qa_installation(root: Path = Path("/"), qa_dir: Path | None = None,
                    package_dir: Path | None = None) -> QaInstallation:
    """The QA of the Ganeti installed below ``root`` (Debian's layout:
    package ``ganeti-testsuite``), or the QA directory ``qa_dir`` of a
    source tree.  The only function that knows these paths."""
    share = root / "usr/share/ganeti"
    if qa_dir is None:
        qa_dir = share / "testsuite/qa"
    # Debian's gnt-* are symlinks into <share>/<version>/, which holds the
    # ``ganeti`` package; "default" points at the version in use.
    pythonpath = (str((share / "default").resolve()),)
    if package_dir is not None:  # an installation tree: its own package
        pythonpath = (str(package_dir),)
    tree = qa_dir.parent
    # A built source tree: qa/ next to lib/ and the ganeti -> lib link.
    if (tree / "lib/__init__.py").is_file() or (tree / "ganeti").is_dir():
        pythonpath = (str(tree),) + pythonpath
    burnin = root / "usr/lib/ganeti/tools/burnin"
    return QaInstallation(qa_dir=qa_dir, python="/usr/bin/python3", pythonpath=pythonpath,
                          burnin=burnin if burnin.exists() else None)


def driver_script() -> Path:
    """qa_driver.py, run with the installation's Python inside the cluster."""
    return Path(__file__).with_name("qa_driver.py")


# -- which tests --------------------------------------------------------------

# QA config keys ("tests") a virtual cluster cannot run, and why.  Nothing
# else is switched off: every other test QA knows runs unless --skip says so.
SKIPS: dict[str, str] = {
    "instance-add-plain-disk": "LVM: a virtual cluster has no volume group "
                               "(Ganeti's limit for virtual clusters)",
    "instance-add-drbd-disk": "DRBD needs the kernel module and block devices per node",
    "instance-remove-drbd-offline": "DRBD (see instance-add-drbd-disk)",
    "instance-replace-disks": "replaces DRBD disks only",
    "instance-add-rbd": "RBD needs a Ceph cluster",
    "instance-add-gluster": "Gluster needs a Gluster volume",
    "cluster-reserved-lvs": "LVM: no volume group",
    "cluster-exclusive-storage": "exclusive storage is an LVM feature (physical volumes)",
    "exclusive-storage-instance-tests": "exclusive storage is an LVM feature",
    "node-volumes": "LVM: lists logical volumes",
    "instance-device-hotplug": "the fake hypervisor cannot hotplug devices",
    "instance-modify-disks": "the fake hypervisor cannot hotplug: QA adds a disk to the "
                             "running instance and removes it (\"can't remove volume "
                             "from a running instance without using hotplug\")",
    "instance-device-names": "the fake hypervisor cannot hotplug: QA adds a named disk "
                             "and NIC to the running instance and removes them",
    "cluster-burnin": "burnin adds and removes disks of running instances, which needs "
                      "hotplug; the fake hypervisor has none (\"can't remove volume from "
                      "a running instance without using hotplug\") and QA gives burnin "
                      "no --no-add-disks",
    "cluster-upgrade": "needs two installed Ganeti versions ('dir-version' and "
                       "'other-dir-version' in the QA config)",
    "inter-cluster-instance-move": "needs a second cluster",
    "instance-console": "the fake hypervisor has no console (QA's sample config "
                        "disables it too)",
    # Ganeti's and QA's own bugs, which fail on real clusters too:
    "instance-add-diskless": "diskless instances meet two bugs on any cluster (same "
                             "code in master): QA's GetInstanceInfo iterates 'gnt-instance "
                             "info''s Disks, empty (YAML None) without disks, so "
                             "TestInstanceRenameAndBack fails \"'NoneType' object is not "
                             "iterable\"; and Ganeti's FinalizeExport writes config.ini "
                             "into export/<instance>.new, which only a disk's export "
                             "creates (\"No such file or directory\"); the file and "
                             "sharedfile instances run the same tests",
    "instance-reinstall": "Ganeti bug: a reinstall stores its --os-parameters in the "
                          "instance before imaging (LUInstanceReinstall.Exec, same in "
                          "master), so QA's expected-to-fail 'reinstall --os-parameters "
                          "os-image=http://NonExistantOsForQa' leaves that image set and "
                          "its next plain 'gnt-instance reinstall' fails on it; any OS "
                          "that takes os-image (which instance-modify needs, "
                          "ganeti/ganeti#1426) meets it",
    # Ganeti's virtual-cluster mode (GANETI_ROOTDIR per node), which every
    # virtual cluster uses, vcluster-setup's too; real machines do not meet it:
    "instance-export": "Ganeti's virtual-cluster mode (same code in master): the master "
                       "names the export's destination file with its own node root "
                       "(masterd/instance.py, no vcluster.MakeVirtualPath), and the "
                       "receiving node, checking it against its own, refuses it: \"File "
                       "'<root>/node1/var/lib/ganeti/export/...' is not under exports "
                       "directory '<root>/node2/var/lib/ganeti/export'\"",
    "instance-recreate-disks": "QA bug (same in master): _DestroyInstanceDisks, which "
                               "simulates lost disks, deletes a sharedfile instance's "
                               "disks from the *file* storage directory ('this is "
                               "intended'), so the sharedfile instance's recreate-disks "
                               "finds its old disks (\"File exists\"); the file "
                               "instance passes it. One directory for both would break "
                               "sharedfile: file storage is per node, shared storage is "
                               "shared, and failover needs it",
    "instance-modify-primary": "QA bug (same in master): ganeti-qa.py picks the 'other "
                               "node' with qa_config.AcquireNode() without "
                               "exclude=inodes; as TestClusterModifyDiskTemplates and "
                               "TestInstanceConvertDiskTemplate never release the nodes "
                               "they acquire, on 3 nodes the least-used node is the "
                               "instance's own primary, and 'gnt-instance modify "
                               "--new-primary=<its own node>' succeeds where QA expects "
                               "a failure",
    "group-custom-ssh-port": "QA bug (same in master): RunCustomSshPortTests makes its "
                             "instances with TestInstanceAddWithPlainDisk, which returns "
                             "None when plain (LVM) is not enabled, and then removes None "
                             "(\"'NoneType' object has no attribute 'name'\"), leaving a "
                             "node in its group; needs LVM in effect",
    "instance-communication": "QA bug: reads nic.names with 'gnt-instance list "
                              "--separator=:', which cuts the NIC name "
                              "'ganeti:communication:<instance>' at its first ':'",
}

# QA's own setup, which --only keeps: QA builds the cluster it tests, and
# runs the instance tests (instance-add-*) only within this block.
ALWAYS = ("create-cluster", "default-instance-tests")


def known_tests(*qa_sources: str) -> set[str]:
    """The QA config keys QA's code looks up: the strings given to
    ``RunTestIf``, ``TestEnabled`` and ``Either``, and the first element of
    its ``(test, function)`` and ``(test, disk template, ...)`` tables."""
    names: set[str] = set()
    for source in qa_sources:
        names |= _known_in(source)
    return names


def _known_in(qa_source: str) -> set[str]:
    names: set[str] = set()

    def strings(node) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)
        elif isinstance(node, (ast.List, ast.Tuple)):
            for elt in node.elts:
                strings(elt)
        elif isinstance(node, ast.Call) and _called(node) == "Either" and node.args:
            strings(node.args[0])

    for node in ast.walk(ast.parse(qa_source)):
        if isinstance(node, ast.Call) and node.args and \
                _called(node) in ("RunTestIf", "TestEnabled", "Either"):
            strings(node.args[0])
        elif isinstance(node, ast.Tuple) and len(node.elts) >= 2 and _is_table_entry(node):
            strings(node.elts[0])
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in ("test_name", "testname", "testnames")
                for t in node.targets):
            strings(node.value)  # test_name = "..."; qa_config.TestEnabled(test_name)
    return {n for n in names if re.fullmatch(r"[a-z][a-z0-9-]*", n)}


def _is_table_entry(node: ast.Tuple) -> bool:
    second = node.elts[1]
    if isinstance(second, ast.Lambda):
        return True
    return isinstance(second, ast.Attribute) and second.attr.startswith(("Test", "DT_"))


def _called(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


@dataclasses.dataclass(frozen=True)
class Selection:
    """What one QA run runs: the config's "tests" and the reasons for what is off."""

    tests: dict[str, bool]
    skipped: dict[str, str]  # test -> why it is off

    def with_skipped(self, test: str, reason: str) -> "Selection":
        return Selection({**self.tests, test: False}, {**self.skipped, test: reason})


def select(known: set[str], only: list[str] = (), skip: list[str] = (),
           builtin: dict[str, str] = SKIPS) -> Selection:
    """The tests of a run: all QA knows (or ``only``), minus the built-in
    skips and ``skip``.  Unknown names are an error listing the nearest."""
    for name in [*only, *skip]:
        if name not in known:
            near = sorted(k for k in known if name.split("-")[0] in k)[:6]
            hint = f"QA's tests include {', '.join(near)}" if near else \
                "see 'vcluster-ns qa --list' for QA's test names"
            raise InvalidInput(f"QA has no test named {name!r}", hint)
    for name in skip:
        if name in ALWAYS:
            raise InvalidInput(f"--skip {name}: QA's own setup cannot be switched off",
                               "vcluster-ns qa gives QA an empty cluster to set up")
    skipped: dict[str, str] = {}
    tests: dict[str, bool] = {}
    if only:
        tests["default"] = False
        for name in sorted(set(only) | set(ALWAYS)):
            tests[name] = True
    else:
        tests["default"] = True
        for name in sorted(known):
            tests[name] = True
    for name, reason in builtin.items():
        if name in known and (not only or name in only):
            tests[name] = False
            skipped[name] = reason + (" (built-in skip, kept despite --only)" if name in only
                                      else "")
    for name in skip:
        tests[name] = False
        skipped[name] = "--skip"
    return Selection(tests, skipped)


# -- the QA config ------------------------------------------------------------

# Small disks: instances' file disks are sparse files on the host's disk.
DISKS = [
    {"name": "disk0", "size": "256M", "growth": "128M", "spindles": 1, "spindles-growth": 0},
    {"name": "disk1", "size": "128M", "growth": "64M", "spindles": 1, "spindles-growth": 0},
]
DISK_TEMPLATES = ["diskless", "file", "sharedfile"]


@dataclasses.dataclass(frozen=True)
class ClusterFacts:
    """What the QA config needs from a cluster (taken from its spec)."""

    name: str                         # the Ganeti cluster name
    rename: str                       # a second name of the cluster IP
    nodes: list[tuple[str, str | None]]  # (name, secondary IP), master first
    instances: list[str]
    basedir: str                      # the cluster directory: node roots below it
    master_netdev: str
    bridge: str
    file_storage_dir: str
    shared_file_storage_dir: str
    init_args: list[str]
    os: str = "dummy"


def build_config(facts: ClusterFacts, selection: Selection) -> dict:
    """QA's JSON config (see QA's qa-sample.json) for a virtual cluster."""
    nodes = []
    for name, secondary in facts.nodes:
        node = {"primary": name}
        if secondary:
            node["secondary"] = secondary
        nodes.append(node)
    return {
        "# Written by vcluster-ns qa": None,
        "name": facts.name,
        "rename": facts.rename,
        "vcluster-master": facts.nodes[0][0],
        "vcluster-basedir": facts.basedir,
        "enabled-hypervisors": "fake",
        "hypervisor-parameters": {},
        "backend-parameters": "",
        "os-parameters": {},
        "os-hvp": {},
        "primary_ip_version": 4,
        "enabled-disk-templates": DISK_TEMPLATES,
        "convert-disk-templates": ["file", "sharedfile"],
        "default-file-storage-dir": facts.file_storage_dir,
        "default-shared-file-storage-dir": facts.shared_file_storage_dir,
        "cluster-init-args": list(facts.init_args),
        "master-netdev": facts.master_netdev,
        "default-nicparams": {"mode": "bridged", "link": facts.bridge},
        "os": facts.os,
        "maxmem": "128M",
        "minmem": "64M",
        "disks": DISKS,
        "instance-check": None,
        "ignore-tags-re": None,
        # Ganeti's ssh setup would rewrite /root/.ssh; the cluster's ssh is a shim.
        "modify_ssh_setup": False,
        "nodes": nodes,
        "instances": [{"name": name} for name in facts.instances],
        "groups": {"group-with-nodes": "default",
                   "inexistent-groups": ["group1", "group2", "group3"]},
        "networks": {"inexistent-networks": ["network1", "network2", "network3"]},
        "tests": dict(selection.tests),
        "options": {
            "burnin-instances": 2,
            "burnin-disk-template": "file",
            "burnin-in-parallel": False,
            "burnin-check-instances": False,
            "burnin-rename": facts.instances[-1],
            "burnin-reboot": True,
            "reboot-types": ["soft", "hard", "full"],
            "use-iallocators": False,
        },
    }


def facts_from_spec(spec, basedir: Path) -> ClusterFacts:
    """The ClusterFacts of a vcluster-ns cluster (a ``spec.ClusterSpec``)."""
    from . import ganeti
    from .netns import BRIDGE, PRIMARY_IFNAME

    # Ganeti's own init flags for this cluster, less those QA gives itself.
    init = ganeti.init_argv(spec)
    qa_owns = ("--enabled-hypervisors", "--enabled-disk-templates", "--file-storage-dir",
               "--no-ssh-init",
               "--master-netdev", "--nic-parameters", "-s")
    extra = []
    skip_next = False
    for arg in init[2:-1]:
        if skip_next:
            skip_next = False
            continue
        if arg == "-s":
            skip_next = True
            continue
        if not arg.startswith(qa_owns):
            extra.append(arg)
    master = spec.master_node
    order = [master] + [n for n in spec.node_names if n != master]
    secondary = {n: spec.node_secondary_ip(n) for n in order}
    return ClusterFacts(
        name=spec.cluster_fqdn,
        rename=rename_name(spec.cluster_fqdn),
        nodes=[(n, str(secondary[n]) if secondary[n] else None) for n in order],
        instances=list(spec.instance_names),
        basedir=str(basedir),
        master_netdev=PRIMARY_IFNAME if spec.isolated else "lo",
        bridge=BRIDGE,
        file_storage_dir=FILE_STORAGE_DIR,
        shared_file_storage_dir=SHARED_FILE_STORAGE_DIR,
        init_args=extra,
    )


def rename_ip(spec):
    """The address of the rename target: host 3 of the network, unused
    (1 is the cluster's, 2 the switch's, nodes start at 10)."""
    return spec.ip_network.network_address + 3


def rename_name(cluster: str) -> str:
    """The name QA renames the cluster to (and back): it must resolve."""
    short, dot, domain = cluster.partition(".")
    return f"{short}-renamed{dot}{domain}"


# -- reading QA's output ------------------------------------------------------

PASSED, FAILED, SKIPPED, ERROR = "passed", "failed", "skipped", "error"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?"
# RunTest's headers (ganeti-qa.py's _FormatHeader: 4 marks, text, dashes).
START = re.compile(rf"^<<<< {STAMP} start (?P<desc>.*?)(?: -+)?$")
RESULT = re.compile(r"^---- (?P<what>PASSED|FAILED) (?P<rest>.*)$")
END = re.compile(rf"^>>>> {STAMP} time=(?P<time>[\d:.]+) (?P<desc>.*?)(?: -+)?$")
SKIP = re.compile(rf"^\*\*\*\* {STAMP} skipping (?P<desc>.*), test\(s\) (?P<names>.*) "
                  r"disabled(?: -+)?$")
FUNC = re.compile(r"^\[(?P<func>[^\]]+)\] ?(?P<text>.*)$")
# QA names a test without a docstring by its repr (TestInstanceDeviceNames).
FUNC_REPR = re.compile(r"^<function (?P<func>[\w.]+) at 0x[0-9a-fA-F]+>")
NAMES = re.compile(r"^==== vcluster-ns names (?P<json>\[.*\])$")
WORKAROUND = re.compile(r"^==== vcluster-ns workaround (?P<text>.*)$")


@dataclasses.dataclass
class TestResult:
    """One test QA ran (or reported skipped)."""

    func: str              # QA's function, e.g. TestClusterInit
    description: str       # its docstring's first line
    status: str            # passed / failed / skipped / error
    names: list[str] = dataclasses.field(default_factory=list)  # QA config keys
    seconds: float | None = None
    message: str = ""      # QA's failure message
    output: list[str] = dataclasses.field(default_factory=list)  # lines while it ran
    attempt: int = 1

    @property
    def label(self) -> str:
        return self.func


def _seconds(text: str) -> float | None:
    """datetime.timedelta's str: [D day[s], ]H:MM:SS[.ffffff]."""
    m = re.search(r"(?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)$", text)
    if not m:
        return None
    days, h, mi, s = m.groups()
    return int(days or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(s)


def _split(desc: str) -> tuple[str, str]:
    m = FUNC.match(desc.strip())
    if m:
        return m["func"], m["text"].strip()
    m = FUNC_REPR.match(desc.strip())
    if m:
        return m["func"], ""
    return desc.strip(), desc.strip()


class QaOutput:
    """Reads QA's stdout line by line; ``results`` grows as tests end.

    ``on_result`` (optional) is called with each finished TestResult and
    ``on_start`` with each test as it starts, for progress.  Skips reported by QA itself ("test(s) ... disabled") are
    results too, with status ``skipped``.
    """

    def __init__(self, on_result=None, attempt: int = 1, keep_lines: int = 200,
                 on_start=None):
        self.results: list[TestResult] = []
        self.workarounds: list[str] = []
        self.on_result = on_result
        self.on_start = on_start
        self.attempt = attempt
        self.keep_lines = keep_lines
        self.tail: list[str] = []          # last lines seen, for errors outside tests
        self._running: list[TestResult] = []
        self._names: list[str] = []
        self._failing: TestResult | None = None  # FAILED seen, message may go on

    def feed(self, line: str) -> None:
        line = ANSI.sub("", line.rstrip("\n"))
        self.tail = (self.tail + [line])[-self.keep_lines:]
        m = NAMES.match(line)
        if m:
            try:
                self._names = [str(n) for n in json.loads(m["json"])]
            except ValueError:
                self._names = []
            return
        m = WORKAROUND.match(line)
        if m:
            self.workarounds.append(m["text"])
            return
        m = START.match(line)
        if m:
            func, text = _split(m["desc"])
            self._running.append(TestResult(func, text, ERROR, self._names,
                                            attempt=self.attempt))
            self._names = []
            if self.on_start is not None:
                self.on_start(self._running[-1])
            self._failing = None
            return
        m = END.match(line)
        if m and self._running:
            func, _ = _split(m["desc"])
            test = self._pop(func)
            if test is not None:
                test.seconds = _seconds(m["time"])
                self._finish(test)
            self._failing = None
            return
        m = RESULT.match(line)
        if m and self._running:
            rest = m["rest"]
            test = self._running[-1]
            if m["what"] == "PASSED":
                test.status = PASSED
            else:
                test.status = FAILED
                prefix = f"[{test.func}] {test.description}"
                bare = FUNC_REPR.match(rest)
                if rest.startswith(prefix):
                    message = rest[len(prefix):].lstrip(":").strip()
                elif bare:
                    message = rest[bare.end():].lstrip(":").strip()
                else:
                    message = rest
                test.message = re.sub(r" -+$", "", message)
                self._failing = test
            return
        m = SKIP.match(line)
        if m:
            func, text = _split(m["desc"])
            test = TestResult(func, text, SKIPPED, _skip_names(m["names"]),
                              message=f"test(s) {m['names']} disabled", attempt=self.attempt)
            self._finish(test)
            return
        if self._failing is not None:
            # A multi-line failure message: QA prints the exception's text whole.
            self._failing.message += "\n" + re.sub(r" -+$", "", line)
            return
        for test in self._running:
            test.output.append(line)
            del test.output[:-self.keep_lines]

    def _pop(self, func: str) -> TestResult | None:
        for i in range(len(self._running) - 1, -1, -1):
            if self._running[i].func == func:
                return self._running.pop(i)
        return None

    def _finish(self, test: TestResult) -> None:
        self.results.append(test)
        if self.on_result is not None:
            self.on_result(test)

    def close(self, exit_code: int) -> TestResult | None:
        """QA ended with ``exit_code``.  A test still running is an error; a
        failure outside any test (QA's setup code, a crash) becomes a
        result of its own.  Returns the test that ended the run, if any."""
        for test in self._running:
            test.status = ERROR
            test.message = test.message or f"QA ended (status {exit_code}) while it ran"
            self._finish(test)
        self._running = []
        failed = [t for t in self.results if t.status in (FAILED, ERROR)]
        if exit_code != 0 and not failed:
            test = TestResult("ganeti-qa.py", "QA outside any test", ERROR,
                              message=_last_error(self.tail) or f"exit status {exit_code}",
                              output=list(self.tail), attempt=self.attempt)
            self._finish(test)
            return test
        return failed[-1] if failed else None


def _skip_names(text: str) -> list[str]:
    """QA prints the testnames argument of RunTestIf with %s: a name, or a list."""
    return re.findall(r"'([a-z][a-z0-9-]*)'", text) or \
        ([text.strip()] if re.fullmatch(r"[a-z][a-z0-9-]*", text.strip()) else [])


def _last_error(lines: list[str]) -> str:
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line):
            return line
    return next((line for line in reversed(lines) if line.strip()), "")


def parse(text: str, exit_code: int = 0) -> QaOutput:
    """All of a recorded QA output at once (for tests and re-reading logs)."""
    out = QaOutput()
    for line in text.splitlines():
        out.feed(line)
    out.close(exit_code)
    return out


def switch_off(test: TestResult, selection: Selection) -> str | None:
    """The QA config key that turns ``test`` off, for ``--keep-going``: the
    first of its names still on, never QA's own setup (``ALWAYS``: without
    create-cluster QA would take the empty cluster for a made one).  None
    if nothing can (QA runs it always)."""
    for name in test.names:
        if name not in ALWAYS and \
                selection.tests.get(name, selection.tests.get("default", True)):
            return name
    return None


# -- reporting -----------------------------------------------------------------


@dataclasses.dataclass
class Report:
    """Everything one ``vcluster-ns qa`` found, over all its attempts."""

    results: list[TestResult]
    skipped: dict[str, str]           # config key -> reason (built-in, --skip, keep-going)
    workarounds: dict[str, str]       # what was changed -> why
    attempts: int = 1
    seconds: float = 0.0
    workaround_uses: int = 0          # commands the workarounds changed
    clusters: list[str] = dataclasses.field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = {PASSED: 0, FAILED: 0, ERROR: 0, SKIPPED: 0}
        for test in self.results:
            counts[test.status] += 1
        return counts

    @property
    def ok(self) -> bool:
        return not any(t.status in (FAILED, ERROR) for t in self.results)


def summary_rows(report: Report) -> list[list[str]]:
    """One row per test QA ran or skipped, then one per config key switched off."""
    rows = []
    for t in report.results:
        if t.status == SKIPPED:
            continue
        took = "-" if t.seconds is None else f"{t.seconds:.1f}s"
        why = t.message.splitlines()[0][:100] if t.message else ""
        rows.append([t.func, t.status, took, ",".join(t.names), why])
    return rows


def junit_xml(report: Report, suite: str = "ganeti-qa") -> str:
    """JUnit XML: one testcase per test QA ran or skipped; the skip list and
    every workaround as properties, so a CI reader sees what was changed."""
    counts = report.counts()
    root = ET.Element("testsuites", name="vcluster-ns qa", tests=str(len(report.results)),
                      failures=str(counts[FAILED]), errors=str(counts[ERROR]),
                      skipped=str(counts[SKIPPED]), time=f"{report.seconds:.1f}")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(report.results)),
                       failures=str(counts[FAILED]), errors=str(counts[ERROR]),
                       skipped=str(counts[SKIPPED]), time=f"{report.seconds:.1f}")
    props = ET.SubElement(ts, "properties")
    ET.SubElement(props, "property", name="attempts", value=str(report.attempts))
    ET.SubElement(props, "property", name="workaround-uses", value=str(report.workaround_uses))
    for cluster in report.clusters:
        ET.SubElement(props, "property", name="cluster", value=cluster)
    for what, why in report.workarounds.items():
        ET.SubElement(props, "property", name=f"workaround:{what}", value=why)
    for name, why in sorted(report.skipped.items()):
        ET.SubElement(props, "property", name=f"skip:{name}", value=why)
    for t in report.results:
        case = ET.SubElement(ts, "testcase", classname=f"ganeti-qa.{'.'.join(t.names) or 'qa'}",
                             name=f"{t.func}: {t.description}" if t.description != t.func
                             else t.func)
        if t.seconds is not None:
            case.set("time", f"{t.seconds:.3f}")
        if t.status == SKIPPED:
            ET.SubElement(case, "skipped", message=t.message)
        elif t.status in (FAILED, ERROR):
            first = (t.message.splitlines() or [""])[0]
            el = ET.SubElement(case, "failure" if t.status == FAILED else "error",
                               message=first[:500])
            el.text = t.message
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(t.output)
        if t.attempt > 1:
            ET.SubElement(ET.SubElement(case, "properties"), "property",
                          name="attempt", value=str(t.attempt))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
