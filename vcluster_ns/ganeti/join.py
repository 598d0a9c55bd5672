"""How the nodes join Ganeti: one ``gnt-node add`` after another, or linearly.

A ``gnt-node add`` job holds the cluster lock and fans out about ten times
to every *online* node (hooks, ancillary files, ssconf; see
docs/performance.md): the N-th add costs O(N), a bring-up O(N^2).
Ganeti's RPC layer skips offline nodes, so two ways are offered:

``sequential``  ``gnt-node add`` for every node (several clients at once,
                Ganeti runs their jobs one at a time): what exercises
                ``gnt-node add`` itself.
``linear``      (the default) the same adds, with the rest of the cluster
                mostly offline, so that each costs O(1):

  1. the candidate pool is set to 1 (the master counts; nobody is demoted),
     so that no node added now becomes a candidate;
  2. every node: gnt-node add's two steps, then ``OpNodeSetParams
     offline=True`` right after its add in the same job (several nodes a
     job), all by one process on the master (addscript.py; where Ganeti
     sets up ssh keys,
     ``gnt-node add`` and a submitter that sends each node offline the
     moment its add ends): the next adds fan out only to the master and
     the node not yet offline;
  3. every node the cluster file does not want offline:
     ``OpNodeSetParams offline=False``, in ONLINE_JOBS parallel jobs
     (``online_layout``).  The pool (1) is
     full, so nobody is promoted by Ganeti, and with the master the only
     candidate no job file or configuration is copied to candidates;
  4. the nodes that would have filled the pool node by node (the first
     ones that can be candidates, in the cluster file's order) come online
     as candidates (``offline=False, master_candidate=True``), once every
     other node is online, a job each, side by side: the promotions come
     together, and wconfd's ssconf pushes to every online node (each
     promotion changes the candidates' list) are shared; any left (a cut
     join) after it;
  5. the pool is set back to its size (it is full: nobody else is
     promoted).

``<cluster>/join-unfinished`` exists from step 1 until step 5 is done and
holds the pool size to restore: an ``up`` cut anywhere in between leaves
nodes offline (or the pool at 1), and the next ``up``
(``completeness.missing`` sees the marker) finishes the job.  Only opcodes
Ganeti documents (RAPI's ``/2/nodes/NAME/modify`` is the same opcode) and
``gnt-node add`` are used.
"""

from __future__ import annotations

import inspect
import json
import os
import selectors
import tempfile
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

from ..enter import stop_overrunning, wait_exit_code
from ..errors import OperationFailed
from ..spec import ClusterSpec
from .addscript import TRANSIENT_ADD_ERRORS, add_argv, add_settings
from .install import Installation
from .seed import GANETI_PYTHON_DIR

LINEAR, SEQUENTIAL = "linear", "sequential"
WAYS = (LINEAR, SEQUENTIAL)
DEFAULT_WAY = LINEAR
NODE_ADD_PARALLEL = 8  # gnt-node add clients at once (Ganeti queues their jobs)
FLAGS_PER_JOB = 10  # OpNodeSetParams per job: a job process's start-up paid once per 10
# The online step's jobs side by side, whatever the node count.  Measured
# on a 100-node cluster, 90 nodes brought online by 1, 4, 10 and 30 jobs:
# 171, 147, 91 and 110 s.  Past about ten the jobs only wait on each other
# for the configuration lock (each polls it after a random sleep) and the
# CPU, and the job processes' start-ups are paid for nothing.
ONLINE_JOBS = 10
FLAGS_TIMEOUT = 1800.0
# The adding script's bound grows with its nodes: 300 took 660 to 900 s here.
ADD_SECONDS_PER_NODE = 10.0
# Finishing a join sends the regular nodes left online offline only when
# there are at least 1/REGULARS_PER_ADD as many nodes to add.
REGULARS_PER_ADD = 10

# gnt-node add failures of its prerequisite checks that a busy machine can
# cause and that leave the configuration untouched (TRANSIENT_ADD_ERRORS,
# in addscript.py): worth one more try.


def is_transient_add_error(last_line: str) -> bool:
    return any(text in last_line for text in TRANSIENT_ADD_ERRORS)


def secondary_ip_args(spec: ClusterSpec, node: str) -> list[str]:
    ip = spec.node_secondary_ip(node)
    return [] if ip is None else ["-s", str(ip)]


def node_add_argv(spec: ClusterSpec, node: str,
                  installation: Installation | None = None) -> list[str]:
    options = ["--no-ssh-key-check"]
    if installation is not None:
        options = [o for o in options if installation.accepts("gnt-node", o)]
    # What the cluster file asks is not a refinement: never filtered out.
    asked = add_settings(spec, node)
    if "group" in asked:
        options += ["-g", asked["group"]]
    if asked.get("master_capable") is False:
        options.append("--master-capable=no")
    if "sip" in asked:
        options += ["-s", asked["sip"]]
    return ["gnt-node", "add", *options, node]


def wanted_offline(spec: ClusterSpec) -> list[str]:
    """The nodes the cluster file wants offline: step 3 leaves them so."""
    return [n for n in spec.node_names if spec.settings_of(n).get("offline")]


def can_be_candidate(spec: ClusterSpec, node: str) -> bool:
    settings = spec.settings_of(node)
    return settings.get("master_capable") is not False and not settings.get("offline") \
        and not settings.get("drained")


def would_be_candidates(spec: ClusterSpec, roles: dict[str, str], pool: int) -> list[str]:
    """The regular nodes that node-by-node adds would have made candidates:
    the first ones, in the cluster file's order, that can be, as many as
    the pool (``pool``) still lacks (``roles``: each joined node's role
    letter; the master and candidates count)."""
    free = max(0, pool - sum(1 for role in roles.values() if role in ("M", "C")))
    eligible = [n for n in spec.node_names
                if roles.get(n) == "R" and can_be_candidate(spec, n)]
    return eligible[:free]


# Run on the master with Ganeti's own Python: OpNodeSetParams for nodes, in
# jobs of FLAGS_PER_JOB opcodes (one luxi SubmitManyJobs call).
#   mode "offline": submit offline=True for plan["nodes"], print the job ids.
#   mode "submitter": offline=True for each node named on standard input
#     (a line each; whatever lines have come, in one submission) until a
#     line "END" or the end of input; print the job ids.
#   mode "pool": wait for the node jobs; set the pool to plan["size"] (None:
#     only ask); print the size it had.
#   mode "online": wait for the node adds and flag changes still queued or
#     running, then offline=False for every offline node but plan["keep"];
#     wait, retry once what failed, print what is still offline.
#   mode "promote": master_candidate=True for plan["nodes"]; wait, print
#     which are not candidates.
FLAGS_SCRIPT = """
import json, os, select, sys, time
sys.path.insert(0, %(pythondir)r)
from ganeti import cli, opcodes
plan = json.loads(sys.argv[1])
client = cli.GetClient()
UNFINISHED = ("queued", "waiting", "running", "canceling")
def submit(nodes, **flags):
    # High priority (the highest a submission may ask): taken before the
    # node adds queued meanwhile, so that a node is offline for the next adds.
    ops = [opcodes.OpNodeSetParams(node_name=n, force=True, priority=plan["priority"],
                                   **flags) for n in nodes]
    per = plan["per_job"]
    answers = client.SubmitManyJobs([ops[i:i + per] for i in range(0, len(ops), per)])
    refused = [str(job) for ok, job in answers if not ok]
    if refused:
        print(json.dumps({"refused": refused}))
        sys.exit(1)
    return [job for ok, job in answers]
def wait(ids, report=None):
    # report(n): how many opcodes of ids succeeded, every 4th poll (2 s)
    # and once more at the end (the last jobs end between two reports)
    polls = 0
    while ids:
        fields = ["status", "opstatus"] if report and polls %% 4 == 0 else ["status"]
        answers = client.QueryJobs(ids, fields)
        ended = not any(answer[0] in UNFINISHED for answer in answers)
        if report and ended and len(fields) == 1:
            answers = client.QueryJobs(ids, ["status", "opstatus"])
        if report and len(answers[0]) == 2:
            report(sum(1 for answer in answers for s in (answer[1] or [])
                       if s == "success"))
        if ended:
            break
        polls += 1
        time.sleep(0.5)
if plan["mode"] == "offline":
    print(json.dumps({"jobs": submit(plan["nodes"], offline=True)}))
    sys.exit(0)
if plan["mode"] == "submitter":
    jobs, ended, pending = [], False, b""
    while not ended:
        chunk = os.read(0, 65536)
        ended = not chunk
        pending += chunk
        while select.select([0], [], [], 0)[0] and not ended:  # all that has come
            chunk = os.read(0, 65536)
            ended = not chunk
            pending += chunk
        *lines, pending = pending.split(b"\\n")
        names = [line.decode().strip() for line in lines if line.strip()]
        ended = ended or "END" in names
        names = [n for n in names if n != "END"]
        if names:
            jobs += submit(names, offline=True)
    print(json.dumps({"jobs": jobs}))
    sys.exit(0)
def node_jobs():
    return [j for j, s, summary in client.QueryJobs(None, ["id", "status", "summary"])
            if s in UNFINISHED and any(x.startswith(("NODE_ADD(", "NODE_SET_PARAMS("))
                                       for x in summary)]
wait(node_jobs())
if plan["mode"] == "pool":
    # the pool size now; set to plan["size"] (after the node jobs: see join.py)
    now = client.QueryClusterInfo()["candidate_pool_size"]
    if plan.get("size") and plan["size"] != now:
        op = opcodes.OpClusterSetParams(candidate_pool_size=plan["size"])
        ((ok, job),) = client.SubmitManyJobs([[op]])
        wait([job] if ok else [])
        ((status,),) = client.QueryJobs([job], ["status"]) if ok else [["refused"]]
        if status != "success":
            print(json.dumps({"pool": now, "error": f"job {job}: {status}"}))
            sys.exit(1)
    print(json.dumps({"pool": now}))
    sys.exit(0)
if plan["mode"] == "promote":
    wait(submit(plan["nodes"], master_candidate=True))
    left = [n for n, mc in client.QueryNodes(plan["nodes"], ["name", "master_candidate"], False)
            if not mc]
    print(json.dumps({"not_candidates": left}))
    sys.exit(1 if left else 0)
master = client.QueryConfigValues(["master_node"])[0]
def left():
    return [n for n, off in client.QueryNodes([], ["name", "offline"], False)
            if off and n not in plan["keep"] and n != master]
%(online_layout)s
def online_jobs(layout):
    jobs = [[opcodes.OpNodeSetParams(node_name=n, force=True, offline=False,
                                     master_candidate=True if candidate else None,
                                     priority=plan["priority"])
             for n, candidate in job] for job in layout]
    answers = client.SubmitManyJobs(jobs)
    return [job for ok, job in answers if ok]
for attempt in range(2):
    nodes = left()
    if not nodes:
        break
    for phase in online_layout(nodes, plan.get("promote", []) if attempt == 0 else [],
                               plan["online_jobs"]):
        # a line as the phase's count grows: the promotions, few but each
        # much slower, are counted on their own
        what = "master candidates" if phase[0][0][1] else "nodes"
        total = sum(len(job) for job in phase)
        wait(online_jobs(phase), lambda now: print(json.dumps(
            {"online": now, "of": total, "what": what}), flush=True))
print(json.dumps({"offline": left()}))
sys.exit(1 if left() else 0)
"""


# Job priorities a submission may ask (Ganeti's OP_PRIO_SUBMIT_VALID: high,
# normal, low): offlining comes before the adds waiting for the cluster lock.
FLAGS_PRIORITY = -10


def online_layout(nodes, promote, jobs):
    """The online step's phases, each a list of jobs side by side, each job
    a list of (node, becomes candidate): first every node but the
    ``promote`` ones, spread in turn over ``jobs`` jobs at most (fewer for
    fewer nodes); then, once they are all online, the ``promote`` ones
    (offline=False and candidate in one opcode), a job each, side by side.

    The promotions come last and together: each changes the candidates'
    list, which wconfd pushes to every online node, and from then on every
    configuration write and job update is copied to the new candidate too.
    At 300 nodes, promotions that ended the jobs of one phase (each job
    its own) began while the others still had nodes to bring online; those
    opcodes then took 27 to 35 s instead of 6, and the last 40 of 299 took
    160 s.  Runs on the master too, in FLAGS_SCRIPT (plain Python, no
    imports)."""
    candidates = [n for n in promote if n in nodes]
    plain = [n for n in nodes if n not in candidates]
    count = min(jobs, len(plain))
    phases = [[[(n, False) for n in plain[i::count]] for i in range(count)],
              [[(n, True)] for n in candidates]]
    return [phase for phase in phases if phase]


def flags_argv(plan: dict) -> list[str]:
    script = FLAGS_SCRIPT % {"pythondir": GANETI_PYTHON_DIR,
                             "online_layout": inspect.getsource(online_layout)}
    return ["python3", "-c", script,
            json.dumps({"per_job": FLAGS_PER_JOB, "online_jobs": ONLINE_JOBS,
                        "priority": FLAGS_PRIORITY, **plan})]


class Joiner:
    """Adds nodes to the cluster whose master is ``master``.

    ``commands``: enter.NodeCommands; ``progress(msg)``: the summary lines,
    ``detail(msg)``: one line per node (shown with ``up -v``);
    ``counter(total, what)``: a ui.Counter-like object (``tick(ok)``,
    ``done()``) that turns ticks into a rate and the time left.
    """

    def __init__(self, commands, installation: Installation | None, *,
                 command: Callable[..., str],
                 progress: Callable[[str], None] = lambda m: None,
                 detail: Callable[[str], None] = lambda m: None,
                 counter: Callable[[int, str], object] | None = None):
        self.commands = commands
        self.installation = installation
        self.command = command
        self.progress = progress
        self.detail = detail
        self.counter = counter

    # -- the ways ------------------------------------------------------------
    def sequential(self, master: str, spec: ClusterSpec, nodes: list[str]) -> None:
        self.add_nodes(master, spec, nodes)

    def linear(self, master: str, spec: ClusterSpec, nodes: list[str],
               state: Path) -> None:
        """Steps 1-5 of the module's docstring; ``nodes``: those to add (none
        when an interrupted join is only being finished); ``state``: the
        join-unfinished marker, where the pool size to restore is kept.
        Every step is safe to repeat, so a join cut anywhere is finished by
        running them all again."""
        pool = self.pool_to_restore(master, state)
        failures = []  # a node that fails to join stops none of the steps
        # Regular nodes an interrupted join left online would cost every add
        # (about ten RPCs to each); bringing one back online costs about as
        # much as one add's fan-outs to it, so only for more than a few adds.
        regular = [name for name, role in self.roles(master).items() if role == "R"]
        if regular and len(nodes) * REGULARS_PER_ADD >= len(regular):
            self.progress(f"sending {len(regular)} joined regular node(s) offline "
                          "for the adds")
            self.run_flags(master, {"mode": "offline", "nodes": regular})
        self.set_pool(master, 1)
        if nodes:
            self.progress(f"adding {len(nodes)} node(s), each offline right after its add")
            try:
                self.add_on_master(master, spec, nodes)
            except OperationFailed as exc:
                failures.append(exc)
        self.bring_online(master, spec, pool)
        # Those the online step could not promote (already online, as after
        # a cut join), if any, then the pool as it was.
        self.promote(master, would_be_candidates(spec, self.roles(master), pool))
        self.set_pool(master, pool)
        if failures:
            raise failures[0]

    def pool_to_restore(self, master: str, state: Path) -> int:
        """The pool size before the join: kept in ``state`` (an interrupted
        join may have left the pool at 1), else asked and kept there."""
        for line in state.read_text().splitlines() if state.exists() else ():
            if line.startswith("pool="):
                return int(line.removeprefix("pool="))
        pool = self.set_pool(master, None)
        with open(state, "a") as out:
            out.write(f"pool={pool}\n")
        return pool

    def set_pool(self, master: str, size: int | None) -> int:
        """Set the candidate pool's size once the node jobs are over (None:
        only ask); returns the size it had."""
        result = self.commands.run(master, *flags_argv({"mode": "pool", "size": size}),
                                   timeout=FLAGS_TIMEOUT)
        answer = _json_tail(result.stdout)
        if result.returncode != 0 or "pool" not in answer:
            lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
            raise OperationFailed(
                f"setting the candidate pool to {size} failed on {master}: "
                f"{answer.get('error') or (lines[-1] if lines else result.returncode)}",
                f"'{self.command('up')}' tries again")
        return int(answer["pool"])

    def bring_online(self, master: str, spec: ClusterSpec, pool: int) -> None:
        """Steps 3 and 4: every offline node the cluster file does not want
        offline comes online, and those that fill the pool become
        candidates in the same opcode, each last in its job."""
        keep = wanted_offline(spec)
        after = {name: "R" if role == "O" and name not in keep else role
                 for name, role in self.roles(master).items()}
        promote = would_be_candidates(spec, after, pool)
        self.progress("bringing the offline nodes online (parallel jobs)"
                      + (f", {len(promote)} of them as master candidates" if promote else ""))
        count, counting = None, None

        def event(said: dict) -> None:  # {"online": done, "of": total, "what": ...}
            nonlocal count, counting
            if "online" not in said or not self.counter:
                return
            if counting != (said["what"], said["of"]):  # a phase (or the retry) begins
                if count:
                    count.done()
                counting = (said["what"], said["of"])
                count = self.counter(said["of"], f"{said['what']} online")
            count.tick(said["online"] - count.count)

        code, lines = self.stream(master, flags_argv(
            {"mode": "online", "keep": keep, "promote": promote}), event, FLAGS_TIMEOUT)
        if count:
            count.done()
        if code != 0:
            # what commands.run gives, for flags_failed (stderr came on stdout)
            result = subprocess.CompletedProcess([], code, "\n".join(lines), "")
            self.flags_failed(master, "bringing the new nodes online", result, "offline",
                              lambda left: f"{len(left)} node(s) stay offline: "
                                           f"{', '.join(left[:5])}")

    def roles(self, master: str) -> dict[str, str]:
        """Each joined node's role letter (M, C, R, D, O), from the master."""
        listing = self.commands.run(master, "gnt-node", "list", "--no-headers",
                                    "-o", "name,role")
        if listing.returncode != 0:
            return {master: "M"}
        return dict(line.split()[:2] for line in listing.stdout.splitlines()
                    if len(line.split()) >= 2)

    def promote(self, master: str, nodes: list[str]) -> None:
        """Step 4: the nodes that fill the pool become candidates."""
        if not nodes:
            return
        self.progress(f"making {len(nodes)} node(s) master candidates")
        # A job each: they run side by side, and wconfd's ssconf pushes to
        # every online node (each promotion changes the candidates' list)
        # merge over a shorter time.
        result = self.commands.run(master, *flags_argv({"mode": "promote", "nodes": nodes,
                                                        "per_job": 1}), timeout=FLAGS_TIMEOUT)
        if result.returncode != 0:
            self.flags_failed(master, "making master candidates", result, "not_candidates",
                              lambda left: f"{', '.join(left[:5])} not promoted")

    def flags_failed(self, master: str, doing: str, result, key: str,
                     describe: Callable[[list[str]], str]) -> None:
        """One error line for a flags script that failed: the nodes it names
        under ``key`` (``describe``d), else its last line of output."""
        left = _json_tail(result.stdout).get(key) or []
        lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
        what = describe(left) if left else lines[-1] if lines else f"status {result.returncode}"
        raise OperationFailed(f"{doing} failed on {master}: {what}",
                              f"see '{self.command('run', master, 'gnt-job', 'list')}'; "
                              f"'{self.command('up')}' tries again")

    def run_flags(self, master: str, plan: dict) -> None:
        result = self.commands.run(master, *flags_argv(plan), timeout=FLAGS_TIMEOUT)
        if result.returncode != 0:  # slower, not wrong: the nodes stay online
            lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
            self.progress(f"sending nodes offline failed ({lines[-1] if lines else ''}): "
                          "the adds go on, each costing more")

    # -- the adds --------------------------------------------------------------
    def add_nodes(self, master: str, spec: ClusterSpec, nodes: list[str],
                  offline_after: bool = False) -> None:
        """``gnt-node add`` for every node, several at a time.

        Ganeti runs the NODE_ADD jobs one after another (they lock the
        cluster), but the client side of each add (reaching the node,
        node-daemon-setup, certificates) overlaps with the other jobs.
        An add that fails its prerequisites for a passing reason (see
        TRANSIENT_ADD_ERRORS) changed nothing and is tried once more.
        With ``offline_after``, one submitter on the master (FLAGS_SCRIPT's
        "submitter") sends each node offline as soon as its add ends: a
        node left online costs every later add about ten RPCs.
        A node that fails to join is reported after the others have.
        """
        pending, running, failures = list(nodes), {}, []
        retried: set[str] = set()
        count = self.counter(len(nodes), "nodes added") if self.counter else None
        with open(os.devnull, "rb") as devnull, ExitStack() as cleanup:
            def spawn(argv, stdin=devnull.fileno()):
                output = tempfile.TemporaryFile()
                bridge = self.commands.spawn(master, argv, stdin=stdin,
                                             stdout=output.fileno(), stderr=output.fileno())
                return bridge, output

            submitter = None
            if offline_after:
                read, write = os.pipe()
                submitter = spawn(flags_argv({"mode": "submitter"}), stdin=read)
                os.close(read)
                to_submitter = cleanup.enter_context(os.fdopen(write, "w", buffering=1))
            while pending or running:
                while pending and len(running) < NODE_ADD_PARALLEL:
                    node = pending.pop(0)
                    running[spawn(node_add_argv(spec, node, self.installation))] = node
                for key in list(running):
                    code, last = _finished(key)
                    if code is None:
                        continue
                    node = running.pop(key)
                    if code != 0 and node not in retried and is_transient_add_error(last):
                        retried.add(node)
                        pending.append(node)
                        self.detail(f"gnt-node add {node}: {last}; trying once more")
                        continue
                    if code != 0:
                        failures.append(f"{node}: {last}")
                    elif submitter is not None:
                        self.send_offline(to_submitter, node)
                    self.detail(f"gnt-node add {node}: {'ok' if code == 0 else 'FAILED'}")
                    if count:
                        count.tick()
                time.sleep(0.05)
            if submitter is not None:
                self.send_offline(to_submitter, "END")
                code, last = _wait(submitter)
                if code != 0:  # slower, not wrong: the nodes stay online
                    self.progress(f"sending nodes offline failed ({last}): they are "
                                  "brought online with the others")
        if count:
            count.done()
        if failures:
            self.adds_failed(master, failures)

    def add_on_master(self, master: str, spec: ClusterSpec, nodes: list[str]) -> None:
        """Step 2 by one process on the master (addscript.py): gnt-node
        add's two steps with Ganeti's own functions, the offline step in
        the add's own job.  Where it cannot (a cluster that has Ganeti set
        up ssh keys), ``gnt-node add`` and the submitter do it."""
        count = self.counter(len(nodes), "nodes added") if self.counter else None
        failures, answer = [], {}

        def event(said: dict) -> None:  # {"node": ..., "ok": ..., "error": ...} per node
            nonlocal answer
            if "node" not in said:
                answer = said
                return
            if not said["ok"]:
                failures.append(f"{said['node']}: {said['error']}")
            self.detail(f"gnt-node add {said['node']}: {'ok' if said['ok'] else 'FAILED'}")
            if count:
                count.tick()

        code, lines = self.stream(master, add_argv(spec, nodes, FLAGS_PRIORITY), event,
                                  FLAGS_TIMEOUT + ADD_SECONDS_PER_NODE * len(nodes))
        if count:
            count.done()
        if "unsupported" in answer:
            self.add_nodes(master, spec, nodes, offline_after=True)
            return
        if not failures and code != 0:
            failures.append(f"the adding script: {_last(lines, code)}")
        if failures:
            self.adds_failed(master, failures)

    def stream(self, master: str, argv: list[str], event: Callable[[dict], None],
               timeout: float) -> tuple[int, list[str]]:
        """Run ``argv`` on the master; ``event`` gets each JSON object it
        prints, as it prints it.  Returns its exit code and output lines; a
        script still running after ``timeout`` seconds is stopped, with
        enter.TIMED_OUT and a last line that says so."""
        read, write = os.pipe()
        try:
            with open(os.devnull, "rb") as devnull:
                bridge = self.commands.spawn(master, argv, stdin=devnull.fileno(),
                                             stdout=write, stderr=write)
        finally:
            os.close(write)
        lines = []

        def line(text: str) -> None:
            lines.append(text)
            try:
                parsed = json.loads(text)
            except ValueError:
                return
            if isinstance(parsed, dict):
                event(parsed)

        ended, pending = True, b""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(read, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    ended = False
                    break
                data = os.read(read, 65536)
                if not data:
                    break
                *complete, pending = (pending + data).split(b"\n")
                for raw in complete:
                    line(raw.decode(errors="replace"))
        os.close(read)
        if pending:
            line(pending.decode(errors="replace"))
        if ended:
            return wait_exit_code(bridge), lines
        code = stop_overrunning(bridge)
        return code, lines + [f"stopped after running {timeout:g}s"]

    def adds_failed(self, master: str, failures: list[str]) -> None:
        raise OperationFailed(f"'gnt-node add' failed on {master} for {failures[0]}"
                              + (f" and {len(failures) - 1} more" if len(failures) > 1 else ""),
                              f"see '{self.command('logs', master)}'; the nodes that "
                              f"joined stay; '{self.command('up')}' tries the rest again")

    def send_offline(self, to_submitter, name: str) -> None:
        try:
            to_submitter.write(name + "\n")
        except BrokenPipeError:  # the submitter ended: reported when waited for
            pass


def _finished(key: tuple[int, object]) -> tuple[int | None, str]:
    """(exit code, last output line) of a finished spawn, (None, '') if running."""
    bridge, output = key
    pid, status = os.waitpid(bridge, os.WNOHANG)
    if pid == 0:
        return None, ""
    code = os.waitstatus_to_exitcode(status)
    output.seek(0)
    lines = output.read().decode(errors="replace").strip().splitlines()
    output.close()
    return code, lines[-1] if lines else f"status {code}"


def _wait(key: tuple[int, object]) -> tuple[int, str]:
    """(exit code, last output line) of a spawn, once it ends."""
    while True:
        code, last = _finished(key)
        if code is not None:
            return code, last
        time.sleep(0.05)


def _last(lines: list[str], code: int) -> str:
    """The last line of output that says something, else the exit code."""
    said = [line.strip() for line in lines if line.strip()]
    return said[-1] if said else f"status {code}"


def _json_tail(text: str) -> dict:
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return {}
