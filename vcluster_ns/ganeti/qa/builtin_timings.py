"""The built-in QA timings table (see ``timings``): seconds per QA config
key, and of QA's setup per run (keys switched off or skipped by QA cost 0).

The mean (``Timings.averaged``) of two whole runs of ``vcluster-ns qa
--keep-going --rapi --shards 2`` (3 nodes each, 163 passed, 0 failed) on
Debian's Ganeti 3.0.2, each on the quiet 2-core machine with the two
shards its only work (``bench/bench.py --qa-shards 2``, docs/performance.md):
2026-12-06 22:23 UTC (15.8 min) and 2026-12-07 13:24 UTC (15.0 min, steal
0 %).  The mean, not either run: ``instance-add-osparams`` took 107 s in
one and 234 s in the other, its ``TestSecretOsParams`` waiting for luxid's
queue scan (ganeti/ganeti#1259: 0 to 307 s by where the scan falls), and
a key that waits on chance is best planned by its mean.  The two shards
shared the two cores, so a key alone runs somewhat faster; the plan needs
only the proportions, and every run is averaged into the table kept under
the root, which takes precedence.
"""

GANETI_VERSION = "3.0.2"
SETUP = 12.3
KEYS: dict[str, float] = {
    "cluster-burnin": 0.0,
    "cluster-command": 0.8,
    "cluster-copyfile": 0.0,
    "cluster-destroy": 4.7,
    "cluster-epo": 13.9,
    "cluster-info": 0.9,
    "cluster-instance-communication": 11.5,
    "cluster-instance-policy": 0.0,
    "cluster-master-failover": 62.9,
    "cluster-modify": 138.4,
    "cluster-oob": 0.0,
    "cluster-redist-conf": 1.0,
    "cluster-rename": 22.0,
    "cluster-renew-crypto": 39.4,
    "cluster-repair-disk-sizes": 2.3,
    "cluster-reserved-lvs": 0.0,
    "cluster-upgrade": 0.0,
    "cluster-verify": 10.7,
    "delay": 5.6,
    "env": 7.6,
    "filters": 54.8,
    "group-list": 17.4,
    "group-rwops": 18.6,
    "haskell-confd": 0.7,
    "instance-add-diskless": 0.0,
    "instance-add-drbd-disk": 0.0,
    "instance-add-file": 12.6,
    "instance-add-gluster": 0.0,
    "instance-add-osparams": 170.5,
    "instance-add-plain-disk": 0.0,
    "instance-add-rbd": 0.0,
    "instance-add-restricted-by-disktemplates": 32.5,
    "instance-add-shared-file": 7.3,
    "instance-automatic-restart": 23.4,
    "instance-communication": 0.0,
    "instance-consecutive-failures": 127.4,
    "instance-console": 0.0,
    "instance-convert-disk": 9.1,
    "instance-device-names": 0.0,
    "instance-export": 0.0,
    "instance-failover": 4.1,
    "instance-grow-disk": 13.8,
    "instance-info": 2.1,
    "instance-list": 61.9,
    "instance-migrate": 15.0,
    "instance-modify": 28.6,
    "instance-modify-disks": 0.0,
    "instance-reboot": 11.7,
    "instance-reinstall": 3.5,
    "instance-rename": 56.0,
    "instance-shutdown": 25.5,
    "instance-user-down": 0.0,
    "job-list": 14.3,
    "jobqueue-performance": 285.8,
    "mon-collector": 0.0,
    "network": 22.6,
    "node-info": 0.3,
    "node-list": 30.1,
    "node-modify": 26.8,
    "node-oob": 0.0,
    "node-readd": 5.1,
    "node-storage": 11.1,
    "node-volumes": 0.0,
    "os": 0.0,
    "rapi": 40.0,
    "tags": 16.4,
    "test-jobqueue": 22.4,
}
