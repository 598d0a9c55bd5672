"""The instances ``up`` creates (a cluster file's ``[instances]``).

One luxi ``SubmitManyJobs`` call sends jobs of ``PER_JOB`` OpInstanceCreate
opcodes each (what the benchmark measures, and what RAPI's and the CLI's job
executors use): a job process's start-up is paid once per job and the jobs
run side by side.  ``placement = "spread"`` names each instance's primary
node, round-robin over the nodes that can take instances (the adds then lock
one node each and run in parallel); ``"hail"`` leaves the choice to the
iallocator, which locks every node, so Ganeti runs those adds one by one.
Opcodes that lose a race fail their job's remainder: what is missing is
submitted again, as Ganeti's message asks.
"""

from __future__ import annotations

import json

PER_JOB = 10
SEED_TEMPLATES = ("diskless", "file")
PLACEMENTS = ("spread", "hail")
DEFAULT_SEED_MEMORY = 128  # MiB
# Inside a node, Ganeti's Python package is reached through this link.
GANETI_PYTHON_DIR = "/usr/share/ganeti/default"
OS_TYPE = "noop"

SCRIPT = """
import json, sys, time
sys.path.insert(0, %(pythondir)r)
from ganeti import cli, opcodes
plan = json.loads(sys.argv[1])
client = cli.GetClient()
nodes = [name for name, offline, drained, vm in client.QueryNodes(
             [], ["name", "offline", "drained", "vm_capable"], False)
         if vm and not offline and not drained]
nodes.sort(key=lambda n: (len(n), n))
made = {name for (name,) in client.QueryInstances([], ["name"], False)}
def op(i, name):
    extra = ({"iallocator": "hail"} if plan["placement"] == "hail"
             else {"pnode": nodes[i %% len(nodes)]})
    disks = [{"size": plan["disk"]}] if plan["template"] == "file" else []
    return opcodes.OpInstanceCreate(
        instance_name=name, mode="create", disk_template=plan["template"], disks=disks,
        nics=[], os_type=plan["os"], name_check=False, ip_check=False, start=plan["start"],
        wait_for_sync=False, beparams={"memory": plan["memory"], "vcpus": plan["vcpus"]},
        **extra)
ops = [op(i, name) for i, name in enumerate(plan["names"]) if name not in made]
for attempt in range(4):
    if not ops:
        break
    per = plan["per_job"]
    ids = [job for ok, job in client.SubmitManyJobs(
               [ops[i:i + per] for i in range(0, len(ops), per)]) if ok]
    while any(status in ("queued", "waiting", "running", "canceling")
              for (status,) in client.QueryJobs(ids, ["status"])):
        time.sleep(0.5)
    made = {name for (name,) in client.QueryInstances([], ["name"], False)}
    ops = [o for o in ops if o.instance_name not in made]
missing = [o.instance_name for o in ops]
print(json.dumps({"missing": missing}))
sys.exit(1 if missing else 0)
"""


def seed_plan(names: list[str], seed: dict) -> dict:
    """What the script needs: instance names and their parameters."""
    return {"names": names, "template": seed.get("template", "diskless"),
            "disk": seed.get("disk", 0), "memory": seed.get("memory", DEFAULT_SEED_MEMORY),
            "vcpus": seed.get("vcpus", 1), "placement": seed.get("placement", "spread"),
            "os": OS_TYPE, "per_job": seed.get("per_job", PER_JOB),
            "start": seed.get("start", True)}


def seed_argv(names: list[str], seed: dict) -> list[str]:
    """The command that creates the missing ones of ``names`` on the master."""
    return ["python3", "-c", SCRIPT % {"pythondir": GANETI_PYTHON_DIR},
            json.dumps(seed_plan(names, seed))]
