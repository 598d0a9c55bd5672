"""addscript.ADD_SCRIPT run for real, by Python, against a stub ``ganeti`` package.

The stub (written to a temporary directory, given as the script's Ganeti
Python directory) stands for what the script uses of Ganeti: the set-up
(``bootstrap.SetupNodeDaemon``), the opcodes, and a luxi client whose job
queue runs a job's opcodes in order and fails the rest after a failed one
("Preceding opcode failed"), as Ganeti's does.  It records every job
submitted, so the batching (nodes set up while a job runs share the next
one, each node's offline step right after its add) and the failure
handling are checked on the script itself."""

from __future__ import annotations

import json
import subprocess
import sys

from vcluster_ns.ganeti import addscript
from vcluster_ns.spec import ClusterSpec

STUB = {
    "__init__.py": "",
    "rpc/__init__.py": "",
    "rpc/node.py": "def Init(): pass\ndef Shutdown(): pass\n",
    "errors.py": "class GenericError(Exception): pass\n",
    "bootstrap.py": """
import os, time
FAIL_SETUP = set(os.environ.get("STUB_FAIL_SETUP", "").split())
def SetupNodeDaemon(opts, cluster_name, node, port):
    time.sleep(0.05)
    if node in FAIL_SETUP:
        raise RuntimeError("ssh: connect to host " + node + ": refused")
""",
    "opcodes.py": """
class _Op:
    def __init__(self, **kw): self.__dict__.update(kw)
class OpNodeAdd(_Op): kind = "add"
class OpNodeSetParams(_Op): kind = "offline"
""",
    "cli.py": """
import json, os
LOG = os.environ["STUB_LOG"]
FAIL_ADD = set(os.environ.get("STUB_FAIL_ADD", "").split())
class Client:
    def __init__(self):
        self.jobs, self.polls = {}, {}
    def QueryConfigValues(self, names):
        return ["cluster", False]
    def QueryGroups(self, names, fields, lock):
        return [[None]]
    def QueryNodes(self, names, fields, lock):
        return [["node1"]]
    def SubmitManyJobs(self, jobs):
        (ops,) = jobs
        job = len(self.jobs) + 1
        self.jobs[job] = ops
        with open(LOG, "a") as log:
            log.write(json.dumps([(op.kind, op.node_name) for op in ops]) + "\\n")
        return [(True, job)]
    def QueryJobs(self, ids, fields):
        if ids is None:
            return []
        rows = []
        for job in ids:
            self.polls[job] = self.polls.get(job, 0) + 1
            if self.polls[job] < 4:  # a job runs for a few polls: set-ups pile up
                rows.append([job, "running", None, None])
                continue
            status, results, failed = [], [], False
            for op in self.jobs[job]:
                if failed:
                    status.append("error")
                    results.append(["OpExecError", ["Preceding opcode failed"]])
                elif op.kind == "add" and op.node_name in FAIL_ADD:
                    failed = True
                    status.append("error")
                    results.append(["OpPrereqError", ["Node " + op.node_name + " is bad"]])
                else:
                    status.append("success")
                    results.append(None)
            rows.append([job, "error" if failed else "success", status, results])
        return rows
def GetClient():
    return Client()
""",
}


def run_script(tmp_path, nodes, fail_setup=(), fail_add=()):
    stub = tmp_path / "stub"
    for name, text in STUB.items():
        path = stub / "ganeti" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    log = tmp_path / "jobs"
    log.write_text("")
    spec = ClusterSpec(nodes=len(nodes) + 1)
    argv = addscript.add_argv(spec, nodes, -10)
    argv[2] = addscript.ADD_SCRIPT % {"pythondir": str(stub)}
    result = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True,
                            timeout=20, env={"STUB_LOG": str(log),
                                              "STUB_FAIL_SETUP": " ".join(fail_setup),
                                              "STUB_FAIL_ADD": " ".join(fail_add)})
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    jobs = [json.loads(line) for line in log.read_text().splitlines()]
    return result.returncode, lines, jobs, result.stderr


def test_nodes_set_up_while_a_job_runs_share_the_next_job(tmp_path):
    nodes = [f"node{i}" for i in range(2, 22)]
    code, lines, jobs, err = run_script(tmp_path, nodes)
    assert code == 0, err
    assert lines[-1] == {"failed": []}
    assert sorted(line["node"] for line in lines[:-1]) == sorted(nodes)
    assert all(line["ok"] for line in lines[:-1])
    added = [node for job in jobs for kind, node in job if kind == "add"]
    assert sorted(added) == sorted(nodes)  # each added once
    for job in jobs:  # each node's offline step right after its own add
        assert [kind for kind, _ in job] == ["add", "offline"] * (len(job) // 2)
        assert [node for node in (n for _, n in job)][::2] == [n for _, n in job][1::2]
        assert len(job) // 2 <= addscript.ADD_PER_JOB
    assert any(len(job) > 2 for job in jobs)  # some jobs add several nodes
    assert len(jobs) < len(nodes)


def test_a_failed_add_is_named_and_the_nodes_after_it_in_its_job_are_added_later(tmp_path):
    nodes = [f"node{i}" for i in range(2, 14)]
    code, lines, jobs, err = run_script(tmp_path, nodes, fail_add=["node7"])
    assert code == 1, err
    failed = [line for line in lines[:-1] if not line["ok"]]
    assert [(f["node"], f["error"]) for f in failed] == [("node7", "Node node7 is bad")]
    assert lines[-1] == {"failed": ["node7"]}
    ok = {line["node"] for line in lines[:-1] if line["ok"]}
    assert ok == set(nodes) - {"node7"}
    # Those that shared node7's job after it never ran there: added since.
    job7 = next(job for job in jobs if ["add", "node7"] in job)
    after = [n for kind, n in job7[job7.index(["add", "node7"]) + 1:] if kind == "add"]
    for node in after:
        assert sum(["add", node] in job for job in jobs) == 2, node


def test_a_set_up_that_fails_twice_is_named_with_its_error_and_never_added(tmp_path):
    code, lines, jobs, err = run_script(tmp_path, ["node2", "node3"], fail_setup=["node3"])
    assert code == 1, err
    assert {"node": "node3", "ok": False,
            "error": "RuntimeError: ssh: connect to host node3: refused (bootstrap.py:7)"} \
        in lines
    assert all(["add", "node3"] not in job for job in jobs)
    assert {"node": "node2", "ok": True, "error": ""} in lines
