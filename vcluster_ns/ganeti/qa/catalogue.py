"""Which QA tests exist, which a virtual cluster leaves off, and why.

A QA test is a key of the QA config's ``"tests"``.  The keys are read from
QA's own sources (``known_tests``), never listed here, so each Ganeti
version's QA brings its own.  What is listed here is ``SKIPS``: the keys
vcluster-ns switches off, each with its reason (a virtual cluster's limit,
or a bug of Ganeti or QA confirmed in the code).  No Ganeti version is
recorded with them, as none is known to differ: a virtual cluster's limits
hold for every Ganeti, and each bug, met in a run, is marked "same in
master" where Ganeti's master branch was read too.  ``ALWAYS`` is QA's own
setup, which stays on.

``select`` makes one run's ``Selection`` from that and ``--only``/``--skip``;
``switch_off`` picks the key ``--keep-going`` turns off after a failure.
Pure data and functions, run on the host.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from typing import TYPE_CHECKING

from ...errors import InvalidInput

if TYPE_CHECKING:
    from .output import TestResult

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
