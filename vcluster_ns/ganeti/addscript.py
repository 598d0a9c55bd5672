"""The linear way's node adds, run by one process on the master.

``gnt-node add`` is two steps (client/gnt_node.py ``AddNode``, the same in
3.0, 3.1 and master): ``bootstrap.SetupNodeDaemon`` (ssh to the node,
``node-daemon-setup``: certificates, ssconf, noded started), then an
``OpNodeAdd`` job the client waits for.  Node by node, every add pays a
client's start-up (Python, Ganeti's modules, four luxi queries) and, to
send the node offline, a job process of its own.

ADD_SCRIPT takes the same two steps with Ganeti's own functions, in one
process for all the nodes: the daemon set-ups run ``parallel`` at a time
(they only touch their node), and the nodes set up meanwhile go into one
job, ``[OpNodeAdd, OpNodeSetParams offline=True]`` for each in turn (at
most ``per_job``; one job runs and one waits behind it), so that a job's
start and its configuration reads, which grow with the cluster, are paid
once for several adds, and each node goes offline right after its own add.
A node whose add never ran ("Preceding opcode failed") goes into the next
job.  It prints a JSON line per node as its job ends, then
``{"failed": [...]}``.
"""

from __future__ import annotations

import json

from ..spec import DEFAULT_GROUP, ClusterSpec
from .seed import GANETI_PYTHON_DIR

ADD_PARALLEL = 2  # daemon set-ups at once (8 measured slower: they took the jobs' CPU)
# Set-ups ahead of the job queue: enough to keep it fed, few enough that
# the set-ups do not take the CPU from the jobs on the critical path.
ADD_AHEAD = 12
# Adds in one job at most: a job's start and its configuration reads are
# paid once for them all (at 300 nodes an empty job costs 1.8 s).
ADD_PER_JOB = 8
TRANSIENT_ADD_ERRORS = ("Node not reachable by ping", "didn't become responsive within")

ADD_SCRIPT = """
import json, os, sys, time, traceback, types
from concurrent.futures import ThreadPoolExecutor, FIRST_COMPLETED, wait as wait_any
sys.path.insert(0, %(pythondir)r)
from ganeti import bootstrap, cli, errors, opcodes
from ganeti.rpc import node as rpc
plan = json.loads(sys.argv[1])
# gnt-node add runs under @RunWithRPC: curl's global state set up while one
# thread runs.  Without it the set-ups' node daemon checks fail at random.
rpc.Init()
client = cli.GetClient()
opts = types.SimpleNamespace(debug=False, verbose=False, ssh_key_check=False)
(cluster_name, modify_ssh) = client.QueryConfigValues(["cluster_name", "modify_ssh_setup"])
if modify_ssh:  # gnt-node add would also set up ssh keys: let it
    print(json.dumps({"unsupported": "modify_ssh_setup"}), flush=True)
    sys.exit(3)
def ssh_port(group):
    try:
        ((port,),) = client.QueryGroups([group] if group else [], ["ndp/ssh_port"], False)
    except Exception:
        port = None
    return port
# The set-up threads only read these: a luxi client is one socket, and a
# query from a thread beside the main thread's job queries gets the other's
# answer ("not enough values to unpack").
ports = {group: ssh_port(group) for group in {n.get("group") for n in plan["nodes"]}}
def setup(node):
    bootstrap.SetupNodeDaemon(opts, cluster_name, node["name"], ports[node.get("group")])
def submit(names):  # one job: each node's add, then its offline step
    ops = []
    for node in (nodes[name] for name in names):
        ops += [opcodes.OpNodeAdd(node_name=node["name"], secondary_ip=node.get("sip"),
                                  readd=False, group=node.get("group"), vm_capable=None,
                                  ndparams=None, master_capable=node.get("master_capable"),
                                  disk_state={}, hv_state={}, node_setup=False),
                opcodes.OpNodeSetParams(node_name=node["name"], force=True, offline=True,
                                        priority=plan["priority"])]
    ((ok, job),) = client.SubmitManyJobs([ops])
    if not ok:
        raise RuntimeError(str(job))
    return job
def error_of(result):
    for item in result or ():
        if isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], list):
            return " ".join(str(x) for x in item[1][:1]) or str(item)
    return str(result)
def describe(error):  # Ganeti's own errors say enough; others, where they came from
    text = (str(error).strip().splitlines() or [repr(error)])[-1]
    if isinstance(error, errors.GenericError) or error.__traceback__ is None:
        return text
    frame = traceback.extract_tb(error.__traceback__)[-1]
    return f"{type(error).__name__}: {text} ({os.path.basename(frame.filename)}:{frame.lineno})"
def transient(text):
    return any(t in text for t in plan["transient"])
nodes = {n["name"]: n for n in plan["nodes"]}
pending, retried, failed = list(nodes), set(), []
jobs = {}  # job id: node name
def report(name, ok, error=""):  # a line per node, as its add ends
    print(json.dumps({"node": name, "ok": ok, "error": error}), flush=True)
    if not ok:
        failed.append(name)
# A cut bring-up leaves its node jobs in the queue (and its set-ups on the
# nodes): they end first, and the nodes they added are not added twice.
UNFINISHED = ("queued", "waiting", "running", "canceling")
while any(s in UNFINISHED and any(x.startswith(("NODE_ADD(", "NODE_SET_PARAMS(")) for x in summary)
          for s, summary in client.QueryJobs(None, ["status", "summary"])):
    time.sleep(0.5)
joined = {name for (name,) in client.QueryNodes([], ["name"], False)}
for name in [n for n in pending if n in joined]:
    pending.remove(name)
    report(name, True)
ready = []  # set up, waiting for a job
with ThreadPoolExecutor(plan["parallel"]) as pool:
    setups = {}
    while pending or setups or ready or jobs:
        ahead = len(setups) + len(ready) + sum(len(batch) for batch in jobs.values())
        while pending and len(setups) < plan["parallel"] and ahead < plan["ahead"]:
            name = pending.pop(0)
            setups[pool.submit(setup, nodes[name])] = name
            ahead += 1
        if setups:
            done, _ = wait_any(list(setups), timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                name = setups.pop(future)
                error = future.exception()
                # A set-up changes nothing in the cluster: one more try
                # whatever failed (a cut run's set-up of the node may have
                # been still under way).
                if error is not None and name not in retried:
                    retried.add(name)
                    pending.append(name)
                elif error is not None:
                    report(name, False, describe(error))
                else:
                    ready.append(name)
        else:
            time.sleep(0.2)
        # One job runs and one waits behind it, with every node set up
        # meanwhile: the adds of a job share its process's start and
        # configuration reads, which grow with the cluster.
        if ready and len(jobs) < 2:
            batch, ready = ready[:plan["per_job"]], ready[plan["per_job"]:]
            try:
                jobs[submit(batch)] = batch
            except Exception as exc:
                for name in batch:
                    report(name, False, describe(exc))
        if jobs:
            for job, status, opstatus, opresult in client.QueryJobs(
                    list(jobs), ["id", "status", "opstatus", "opresult"]):
                if status in UNFINISHED:
                    continue
                for i, name in enumerate(jobs.pop(job)):
                    # a node's add is opcode 2i (its offline step 2i+1: if
                    # that failed, the add took and it only costs time)
                    add_status = (opstatus or [])[2 * i:2 * i + 1]
                    error = error_of((opresult or [])[2 * i:2 * i + 1])
                    if add_status == ["success"]:
                        report(name, True)
                    elif "Preceding opcode failed" in error:  # never ran
                        ready.append(name)
                    elif name not in retried and transient(error):
                        retried.add(name)
                        pending.append(name)
                    else:
                        report(name, False, error)
print(json.dumps({"failed": failed}), flush=True)
rpc.Shutdown()
sys.exit(1 if failed else 0)
"""


def add_settings(spec: ClusterSpec, node: str) -> dict:
    """What the cluster file asks of a node's add, in one record for both
    ways (``gnt-node add``'s options in join.node_add_argv, OpNodeAdd's
    fields here): its name, group (named only with several groups, where
    Ganeti wants the target named, default too), secondary IP, and master
    capability when it is refused."""
    settings = spec.settings_of(node)
    entry: dict = {"name": node}
    if spec.groups:
        entry["group"] = settings.get("group", DEFAULT_GROUP)
    ip = spec.node_secondary_ip(node)
    if ip is not None:
        entry["sip"] = str(ip)
    if settings.get("master_capable") is False:
        entry["master_capable"] = False
    return entry


def add_plan(spec: ClusterSpec, nodes: list[str]) -> list[dict]:
    return [add_settings(spec, node) for node in nodes]


def add_argv(spec: ClusterSpec, nodes: list[str], priority: int) -> list[str]:
    return ["python3", "-c", ADD_SCRIPT % {"pythondir": GANETI_PYTHON_DIR},
            json.dumps({"nodes": add_plan(spec, nodes), "parallel": ADD_PARALLEL,
                        "ahead": ADD_AHEAD, "per_job": ADD_PER_JOB, "priority": priority,
                        "transient": list(TRANSIENT_ADD_ERRORS)})]
