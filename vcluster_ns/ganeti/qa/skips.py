"""The built-in skips: QA config keys vcluster-ns switches off, why, and
on which Ganeti versions.

Each entry of ``SKIPS`` is a ``Skip``: its reason (a virtual cluster's
limit, or a bug of Ganeti or QA confirmed in the code, naming the function
at fault) and the ``VersionRange`` where that holds.  A skip applies only
to the versions in its range, compared with the version of the
installation the run tests (read from its ``_constants.py``, never
assumed): a test that passes on a version is not skipped there.  The range
is what runs and the code showed: open where no version is known to
differ, bounded (``before=``) at the first release that fixes a bug.

``applicable`` gives one run's skips with their reasons and ranges as
text, for the selection, the summary, the JUnit file and ``--list``.
Pure data and functions, run on the host.
"""

from __future__ import annotations

import dataclasses

from ..versions import EVERY_VERSION, VersionRange


@dataclasses.dataclass(frozen=True)
class Skip:
    """One built-in skip: why, and the Ganeti versions where it holds."""

    reason: str
    versions: VersionRange = EVERY_VERSION

    def holds_for(self, version: str | None) -> bool:
        """Does this skip apply to ``version``?  An unknown version (None:
        no installation to read it from) gets every skip: better a test
        left off with its reason than one failing for a known cause."""
        return version is None or version in self.versions

    def describe(self) -> str:
        """The reason with the versions it holds for, as reports show it."""
        return f"{self.reason} [holds on {self.versions}]"


# A virtual cluster's limits hold for every version; bugs hold from the
# first version seen to the first that fixes them.
SKIPS: dict[str, Skip] = {
    "instance-add-plain-disk": Skip("LVM: a virtual cluster has no volume group "
                                    "(Ganeti's limit for virtual clusters)"),
    "instance-add-drbd-disk": Skip("DRBD needs the kernel module and block devices per node"),
    "instance-remove-drbd-offline": Skip("DRBD (see instance-add-drbd-disk)"),
    "instance-replace-disks": Skip("replaces DRBD disks only"),
    "instance-add-rbd": Skip("RBD needs a Ceph cluster"),
    "instance-add-gluster": Skip("Gluster needs a Gluster volume"),
    "cluster-reserved-lvs": Skip("LVM: no volume group"),
    "cluster-exclusive-storage": Skip("exclusive storage is an LVM feature (physical "
                                      "volumes)"),
    "exclusive-storage-instance-tests": Skip("exclusive storage is an LVM feature"),
    "node-volumes": Skip("LVM: lists logical volumes"),
    "instance-device-hotplug": Skip("the fake hypervisor cannot hotplug devices"),
    "instance-modify-disks": Skip(
        "the fake hypervisor cannot hotplug: QA adds a disk to the running instance and "
        "removes it (\"can't remove volume from a running instance without using "
        "hotplug\")"),
    "instance-device-names": Skip(
        "the fake hypervisor cannot hotplug: QA adds a named disk and NIC to the running "
        "instance and removes them"),
    "cluster-burnin": Skip(
        "burnin adds and removes disks of running instances, which needs hotplug; the "
        "fake hypervisor has none (\"can't remove volume from a running instance without "
        "using hotplug\") and QA gives burnin no --no-add-disks"),
    "cluster-upgrade": Skip("needs two installed Ganeti versions ('dir-version' and "
                            "'other-dir-version' in the QA config)"),
    "inter-cluster-instance-move": Skip("needs a second cluster"),
    "instance-console": Skip("the fake hypervisor has no console (QA's sample config "
                             "disables it too)"),
    # Ganeti's and QA's own bugs, which fail on real clusters too:
    "instance-add-diskless": Skip(
        "diskless instances meet two bugs on any cluster: QA's GetInstanceInfo iterates "
        "'gnt-instance info''s Disks, empty (YAML None) without disks, so "
        "TestInstanceRenameAndBack fails \"'NoneType' object is not iterable\"; and "
        "Ganeti's FinalizeExport writes config.ini into export/<instance>.new, which only "
        "a disk's export creates (\"No such file or directory\"); the file and sharedfile "
        "instances run the same tests"),
    "instance-reinstall": Skip(
        "Ganeti bug: a reinstall stores its --os-parameters in the instance before "
        "imaging (LUInstanceReinstall.Exec), so QA's expected-to-fail 'reinstall "
        "--os-parameters os-image=http://NonExistantOsForQa' leaves that image set and "
        "its next plain 'gnt-instance reinstall' fails on it; any OS that takes os-image "
        "(which instance-modify needs, ganeti/ganeti#1426) meets it"),
    # Ganeti's virtual-cluster mode (GANETI_ROOTDIR per node), which every
    # virtual cluster uses, vcluster-setup's too; real machines do not meet it:
    "instance-export": Skip(
        "Ganeti's virtual-cluster mode: the master names the export's destination file "
        "with its own node root (masterd/instance.py, no vcluster.MakeVirtualPath), and "
        "the receiving node, checking it against its own, refuses it: \"File "
        "'<root>/node1/var/lib/ganeti/export/...' is not under exports directory "
        "'<root>/node2/var/lib/ganeti/export'\""),
    "instance-recreate-disks": Skip(
        "QA bug: _DestroyInstanceDisks, which simulates lost disks, deletes a sharedfile "
        "instance's disks from the *file* storage directory ('this is intended'), so the "
        "sharedfile instance's recreate-disks finds its old disks (\"File exists\"); the "
        "file instance passes it. One directory for both would break sharedfile: file "
        "storage is per node, shared storage is shared, and failover needs it"),
    "instance-modify-primary": Skip(
        "QA bug: ganeti-qa.py picks the 'other node' with qa_config.AcquireNode() without "
        "exclude=inodes; as TestClusterModifyDiskTemplates and "
        "TestInstanceConvertDiskTemplate never release the nodes they acquire, on 3 nodes "
        "the least-used node is the instance's own primary, and 'gnt-instance modify "
        "--new-primary=<its own node>' succeeds where QA expects a failure"),
    "group-custom-ssh-port": Skip(
        "QA bug: RunCustomSshPortTests makes its instances with "
        "TestInstanceAddWithPlainDisk, which returns None when plain (LVM) is not "
        "enabled, and then removes None (\"'NoneType' object has no attribute 'name'\"), "
        "leaving a node in its group; needs LVM in effect"),
    "instance-communication": Skip(
        "QA bug: _GetInstanceFields reads nic.names with 'gnt-instance list "
        "--separator=:', which cuts the NIC name 'ganeti:communication:<instance>' at "
        "its first ':'"),
}


def applicable(version: str | None, skips: dict[str, Skip] = SKIPS) -> dict[str, str]:
    """The built-in skips that hold for ``version``: key -> reason with range."""
    return {key: skip.describe() for key, skip in skips.items() if skip.holds_for(version)}
