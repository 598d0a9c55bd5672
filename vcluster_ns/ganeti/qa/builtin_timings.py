"""The built-in QA timings table (see ``timings``): seconds per QA config
key, and of QA's setup per run.

Measured by one whole run of ``vcluster-ns qa --keep-going --rapi`` (3
nodes) on Debian's Ganeti 3.0.2, 2026-12-06, on the shared 2-core machine
at load average 10 to 28 (other engineers' builds and QA runs beside it),
so the times are about twice a quiet machine's; the plan needs only their
proportions.  Keys QA skipped itself cost 0.  Keys that run had not
reached when the table was taken are estimates from earlier quiet runs,
doubled: cluster-destroy, instance-add-osparams, instance-add-restricted-by-disktemplates, instance-data-censorship, jobqueue-performance, mon-collector, node-evacuate, node-failover, node-migrate, parallel-performance, performance.
Every run updates the table kept under the root; this is the fallback.
"""

GANETI_VERSION = "3.0.2"
SETUP = 30.0
KEYS: dict[str, float] = {
    "cluster-command": 1.4,
    "cluster-copyfile": 0.0,
    "cluster-destroy": 20.0,
    "cluster-epo": 31.7,
    "cluster-info": 2.1,
    "cluster-instance-communication": 48.9,
    "cluster-master-failover": 60.2,
    "cluster-modify": 360.4,
    "cluster-oob": 0.0,
    "cluster-redist-conf": 1.2,
    "cluster-rename": 24.8,
    "cluster-renew-crypto": 61.8,
    "cluster-repair-disk-sizes": 2.9,
    "cluster-verify": 37.7,
    "delay": 6.7,
    "env": 7.8,
    "filters": 255.1,
    "group-list": 82.6,
    "group-rwops": 70.3,
    "haskell-confd": 1.8,
    "instance-add-file": 46.8,
    "instance-add-osparams": 300.0,
    "instance-add-restricted-by-disktemplates": 20.0,
    "instance-add-shared-file": 68.6,
    "instance-automatic-restart": 55.0,
    "instance-consecutive-failures": 247.7,
    "instance-convert-disk": 11.7,
    "instance-data-censorship": 20.0,
    "instance-failover": 26.9,
    "instance-grow-disk": 46.5,
    "instance-info": 5.1,
    "instance-list": 165.6,
    "instance-migrate": 0.0,
    "instance-modify": 104.1,
    "instance-reboot": 42.5,
    "instance-rename": 90.0,
    "instance-shutdown": 42.2,
    "instance-user-down": 0.0,
    "job-list": 57.9,
    "jobqueue-performance": 360.0,
    "mon-collector": 20.0,
    "network": 170.0,
    "node-evacuate": 40.0,
    "node-failover": 40.0,
    "node-info": 0.5,
    "node-list": 97.7,
    "node-migrate": 40.0,
    "node-modify": 128.1,
    "node-oob": 0.0,
    "node-readd": 21.0,
    "node-storage": 30.5,
    "os": 0.0,
    "parallel-performance": 10.0,
    "performance": 10.0,
    "rapi": 67.3,
    "tags": 47.0,
    "test-jobqueue": 24.6,
}
