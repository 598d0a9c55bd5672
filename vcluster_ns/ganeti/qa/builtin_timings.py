"""The built-in QA timings table (see ``timings``): seconds per QA config
key, and of QA's setup per run (keys switched off or skipped by QA cost 0).

Measured by one whole run of ``vcluster-ns qa --keep-going --rapi --shards 2``
(3 nodes each) on Debian's Ganeti 3.0.2, 2026-12-06 22:23 UTC, on the quiet
2-core machine (load average 2.0 at its start, the two shards its only
work): 163 passed, 0 failed, in 15.8 min (``bench/bench.py --qa-shards 2``,
docs/performance.md, table 10c).  The two shards shared the two cores, so
a key alone runs somewhat faster; the plan needs only the proportions, and
every run updates the table kept under the root, which takes precedence.
``instance-convert-disk`` keeps its figure from the earlier, loaded run:
in that run its tests were counted under the instance's key (the driver
then put the instance loop's gate first; fixed since).
"""

GANETI_VERSION = "3.0.2"
SETUP = 13.3
KEYS: dict[str, float] = {
    "cluster-burnin": 0.0,
    "cluster-command": 1.1,
    "cluster-copyfile": 0.0,
    "cluster-destroy": 4.8,
    "cluster-epo": 13.0,
    "cluster-info": 0.9,
    "cluster-instance-communication": 12.5,
    "cluster-instance-policy": 0.0,
    "cluster-master-failover": 64.8,
    "cluster-modify": 143.4,
    "cluster-oob": 0.0,
    "cluster-redist-conf": 1.1,
    "cluster-rename": 22.8,
    "cluster-renew-crypto": 46.1,
    "cluster-repair-disk-sizes": 1.9,
    "cluster-reserved-lvs": 0.0,
    "cluster-upgrade": 0.0,
    "cluster-verify": 11.7,
    "delay": 5.8,
    "env": 8.0,
    "filters": 58.5,
    "group-list": 15.4,
    "group-rwops": 19.7,
    "haskell-confd": 0.7,
    "instance-add-diskless": 0.0,
    "instance-add-drbd-disk": 0.0,
    "instance-add-file": 15.9,
    "instance-add-gluster": 0.0,
    "instance-add-osparams": 107.1,
    "instance-add-plain-disk": 0.0,
    "instance-add-rbd": 0.0,
    "instance-add-restricted-by-disktemplates": 30.7,
    "instance-add-shared-file": 7.6,
    "instance-automatic-restart": 22.2,
    "instance-communication": 0.0,
    "instance-consecutive-failures": 133.4,
    "instance-console": 0.0,
    "instance-convert-disk": 11.7,
    "instance-device-names": 0.0,
    "instance-export": 0.0,
    "instance-failover": 4.0,
    "instance-grow-disk": 13.0,
    "instance-info": 2.4,
    "instance-list": 86.4,
    "instance-migrate": 15.3,
    "instance-modify": 35.8,
    "instance-modify-disks": 0.0,
    "instance-reboot": 10.6,
    "instance-reinstall": 4.0,
    "instance-rename": 60.3,
    "instance-shutdown": 32.4,
    "instance-user-down": 0.0,
    "job-list": 16.8,
    "jobqueue-performance": 313.4,
    "mon-collector": 0.0,
    "network": 26.4,
    "node-info": 0.4,
    "node-list": 30.1,
    "node-modify": 30.8,
    "node-oob": 0.0,
    "node-readd": 5.0,
    "node-storage": 12.7,
    "node-volumes": 0.0,
    "os": 0.0,
    "rapi": 44.0,
    "tags": 20.7,
    "test-jobqueue": 22.8,
}
