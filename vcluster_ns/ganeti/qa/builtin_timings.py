"""The built-in QA timings table (see ``timings``): seconds per QA config
key, and of QA's setup per run (keys QA skipped itself cost 0).

Measured by one whole run of ``vcluster-ns qa --keep-going --rapi`` (3
nodes) on Debian's Ganeti 3.0.2, 2026-12-06, on the shared 2-core machine:
163 passed, 0 failed, in 77 min, at load average 0.8 at its start and 10
to 58 during it (other engineers' builds and QA runs beside it), against
19.4 min for the same run on the quiet machine.  The times are therefore
inflated, unevenly (most of all the job-queue performance tests, which
start many jobs at once); the plan needs only their proportions, and
every run updates the table kept under the root, which takes precedence.
"""

GANETI_VERSION = "3.0.2"
SETUP = 30.0
KEYS: dict[str, float] = {
    "cluster-command": 1.4,
    "cluster-copyfile": 0.0,
    "cluster-destroy": 28.7,
    "cluster-epo": 31.7,
    "cluster-info": 2.1,
    "cluster-instance-communication": 48.9,
    "cluster-instance-policy": 0.0,
    "cluster-master-failover": 60.2,
    "cluster-modify": 360.4,
    "cluster-oob": 0.0,
    "cluster-redist-conf": 1.2,
    "cluster-rename": 24.8,
    "cluster-renew-crypto": 61.8,
    "cluster-repair-disk-sizes": 8.9,
    "cluster-verify": 37.7,
    "delay": 6.7,
    "env": 7.8,
    "filters": 258.6,
    "group-list": 82.6,
    "group-rwops": 70.3,
    "haskell-confd": 1.8,
    "instance-add-file": 46.8,
    "instance-add-osparams": 80.4,
    "instance-add-restricted-by-disktemplates": 158.0,
    "instance-add-shared-file": 74.3,
    "instance-automatic-restart": 55.0,
    "instance-consecutive-failures": 247.7,
    "instance-convert-disk": 11.7,
    "instance-failover": 26.9,
    "instance-grow-disk": 46.5,
    "instance-info": 5.1,
    "instance-list": 165.6,
    "instance-migrate": 109.6,
    "instance-modify": 104.1,
    "instance-reboot": 42.5,
    "instance-rename": 90.0,
    "instance-shutdown": 42.2,
    "instance-user-down": 0.0,
    "job-list": 57.9,
    "jobqueue-performance": 1370.5,
    "mon-collector": 0.0,
    "network": 170.0,
    "node-info": 0.5,
    "node-list": 97.7,
    "node-modify": 128.1,
    "node-oob": 0.0,
    "node-readd": 21.0,
    "node-storage": 30.5,
    "os": 0.0,
    "rapi": 67.3,
    "tags": 47.0,
    "test-jobqueue": 24.6,
}
