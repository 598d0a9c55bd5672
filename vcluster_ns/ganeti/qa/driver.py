"""Run Ganeti's ``ganeti-qa.py`` as it is, with two additions; inside a cluster.

Started by ``vcluster-ns qa`` (``vcluster_ns.qa_run``), by path
(``suite.driver_script()``), with the Python of the Ganeti installation
(not vcluster-ns's), so it imports nothing of vcluster-ns and only the
standard library besides QA:

    python3 driver.py [--ignore-verify-error CODE]... [--rapi]
                      [--upgrade-without-2.16-keys] QA_SCRIPT ARGS...

It loads QA_SCRIPT as a module and calls its ``main()`` with ARGS, after:

* wrapping ``RunTestIf`` so that, before each enabled test, a line
  ``==== vcluster-ns names ["name", ...]`` names the QA config keys
  ("tests") that switch it on or off.  QA prints function names only;
  ``--keep-going`` needs the key to switch a failed test off;
* with ``--ignore-verify-error CODE`` (e.g. ENODESETUP on a kernel without
  /proc/sysrq-trigger): every ``gnt-cluster verify`` QA runs gets
  ``--ignore-errors=CODE``, and each time a line
  ``==== vcluster-ns workaround ...`` says so.  This changes what Ganeti
  checks, so ``vcluster-ns qa`` reports it in its summary and JUnit file;
* with ``--rapi``: QA's RAPI tests run although QA is in virtual-cluster
  mode, where ``qa_rapi`` turns them off ("TODO: Implement RAPI tests for
  virtual clusters").  vcluster-setup's nodes share the host's address, so
  QA cannot reach one node's RAPI daemon there; a vcluster-ns node has an
  address of its own, and QA's client reaches the master's daemon as on
  real machines.  Only ``qa_rapi`` is told "not a virtual cluster"; every
  other module keeps QA's virtual-cluster mode.  Reported as a workaround.

What QA tests, and how, is otherwise unchanged.
"""

import functools
import importlib.util
import json
import os
import re
import sys

MARK = "==== vcluster-ns"

# Python put this file's directory first on sys.path: vcluster_ns/ganeti/qa,
# whose config.py, output.py, ... are not QA's; QA must import its own
# modules and Ganeti's ``ganeti``.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]


def _names(testnames):
    """The config keys among RunTestIf's ``testnames`` (strings, lists,
    qa_config.Either, or callables such as qa_rapi.Enabled)."""
    if isinstance(testnames, str):
        return [testnames]
    if isinstance(testnames, (list, tuple)):
        return [n for item in testnames for n in _names(item)]
    inner = getattr(testnames, "tests", None)  # qa_config.Either
    if inner is not None:
        return _names(inner)
    if getattr(testnames, "__name__", "") == "Enabled" and \
            getattr(testnames, "__module__", "").endswith("qa_rapi"):
        return ["rapi"]  # qa_rapi.Enabled is the "rapi" key (and not a vcluster)
    return []


def _rapi_on_virtual_cluster():
    """Let qa_rapi (only) see a cluster that is not virtual: its Enabled()
    and ReloadCertificates() test qa_config.UseVirtualCluster()."""
    import types

    for name in ("qa.qa_rapi", "qa_rapi"):
        module = sys.modules.get(name)
        if module is None:
            continue
        real = module.qa_config

        class RapiView(types.ModuleType):
            def __getattr__(self, attr, real=real):
                return getattr(real, attr)

        view = RapiView(real.__name__)
        view.UseVirtualCluster = lambda *args, **kwargs: False
        module.qa_config = view


def _ignoring(get_ssh_command, codes):
    verify = re.compile(r"^(gnt-cluster verify)(?=\s|$)")
    upgrade = re.compile(r"^gnt-cluster upgrade(?=\s|$)")
    option = " ".join("--ignore-errors=%s" % code for code in codes)

    def GetSSHCommand(node, cmd, *args, **kwargs):  # noqa: N802 (QA's name)
        if cmd and verify.match(cmd):
            cmd = verify.sub(r"\1 " + option, cmd, count=1)
            print("%s workaround %s: %s" % (MARK, ",".join(codes), cmd), flush=True)
        elif cmd and upgrade.match(cmd):
            print("%s workaround %s: %s, its closing verify judged with %s"
                  % (MARK, ",".join(codes), cmd, option), flush=True)
            cmd = _upgrade_verified_with(cmd, option)
        return get_ssh_command(node, cmd, *args, **kwargs)

    return GetSSHCommand


def _upgrade_verified_with(cmd, option):
    """``gnt-cluster upgrade`` ends by running a plain ``gnt-cluster verify``
    and fails if that does (Ganeti's _UpgradeAfterConfigurationChange).  When
    that verify is the only step that failed ("Command ['gnt-cluster',
    'verify'] failed" is its one "Command [...] failed" line on stderr), the
    upgrade's status is that of a verify with ``option``; any other failed
    step keeps it failed."""
    return ("err=$(mktemp); { %s; } 2>\"$err\"; rc=$?; cat \"$err\" >&2; "
            "if [ $rc -ne 0 ] && [ \"$(grep -c '^Command \\[' \"$err\")\" = 1 ] && "
            "grep -q \"^Command \\['gnt-cluster', 'verify'\\] failed\" \"$err\"; then "
            "gnt-cluster verify %s >&2; rc=$?; fi; rm -f \"$err\"; exit $rc"
            % (cmd, option))


def _upgrade_without_216_keys():
    """QA's ``TestUpgrade`` (qa_cluster.py, the same in Ganeti master) starts
    with a step for 2.16 only, "prior to performing a downgrade ... make sure
    that the SSH keys used are such that the lower version can still use
    them": ``if constants.VERSION_MINOR != 16: raise qa_error.Error("Please
    remove the key type downgrade code in 2.17")``, then ``gnt-cluster
    renew-crypto --new-ssh-keys --ssh-key-type=dsa``.  On every other
    version the test fails there, before any upgrade.  This recompiles
    TestUpgrade without those two statements; the rest (upgrade, verify,
    instances, and back) is QA's own.  Returns whether it was done."""
    import ast
    import inspect
    import textwrap

    done = False
    for name in ("qa.qa_cluster", "qa_cluster"):
        module = sys.modules.get(name)
        test = getattr(module, "TestUpgrade", None)
        if test is None:
            continue
        lines, first = inspect.getsourcelines(test)
        tree = ast.parse(textwrap.dedent("".join(lines)))
        ast.increment_lineno(tree, first - 1)
        function = tree.body[0]
        body, dropping = [], False
        for stmt in function.body:
            text = ast.unparse(stmt)
            if isinstance(stmt, ast.If) and "VERSION_MINOR" in ast.unparse(stmt.test) \
                    and "2.17" in text:
                dropping = True
                continue
            if dropping and "renew-crypto" in text and "dsa" in text:
                dropping = False
                continue
            body.append(stmt)
        if len(body) == len(function.body):
            continue  # a QA without that step: nothing to change
        function.body = body
        exec(compile(tree, inspect.getsourcefile(test), "exec"), module.__dict__)
        done = True
    return done


def _gate_on_rapi(script, state):
    """``if qa_rapi.Enabled(): RunTest(qa_rapi.TestNode, ...)``: the test's
    key is "rapi", though QA checks it without qa_config.TestEnabled."""
    module = sys.modules.get("qa.qa_rapi")
    enabled = getattr(module, "Enabled", None)
    if enabled is None:
        return

    @functools.wraps(enabled)
    def Enabled(*args, **kwargs):  # noqa: N802 (QA's name)
        on = enabled(*args, **kwargs)
        caller = sys._getframe(1)
        if caller.f_code.co_filename == script and caller.f_code.co_name != "RunTestIf":
            if on:
                _open_gate(state, ["rapi"], caller)
            else:
                _close_gate(state, caller)
        return on

    module.Enabled = Enabled


def _if_bodies(filename):
    """{line of an ``if`` test: (first, last line of its body)} of a
    script, for every line its test spans (cached)."""
    bodies = _IF_BODIES.get(filename)
    if bodies is None:
        import ast
        bodies = {}
        try:
            with open(filename) as source:
                tree = ast.parse(source.read(), filename)
        except (OSError, SyntaxError, ValueError):
            tree = None
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.If) and node.body:
                span = (node.body[0].lineno, node.body[-1].end_lineno)
                for line in range(node.test.lineno, node.test.end_lineno + 1):
                    bodies[line] = span
        _IF_BODIES[filename] = bodies
    return bodies


_IF_BODIES = {}


def _open_gate(state, names, frame):
    """``names`` switch off the tests QA runs in the body of the ``if``
    whose test ``frame`` (ganeti-qa.py's) is evaluating: a gate for bare
    ``RunTest`` calls on those lines of that function.  One gate per call
    site: evaluating it again (the loop's next instance, the function's
    next call) replaces it, so a pass never carries an earlier one's key."""
    first, last = _if_bodies(frame.f_code.co_filename).get(
        frame.f_lineno, (frame.f_lineno, float("inf")))
    state["gates"][(frame.f_code, frame.f_lasti)] = (first, last, list(names))


def _close_gate(state, frame):
    """The call site said "off" this time: its earlier gate no longer holds."""
    state["gates"].pop((frame.f_code, frame.f_lasti), None)


def _gated(state, frame):
    """The keys of the gates open where ``frame`` stands, the innermost
    ``if`` first (``if TestEnabled("instance-convert-disk")`` inside the
    instance loop's ``if TestEnabled(test_name)``: the conversion is
    instance-convert-disk's test), then in the order of their call sites."""
    here = sorted((last - first, site, keys)
                  for (code, site), (first, last, keys) in state["gates"].items()
                  if code is frame.f_code and first <= frame.f_lineno <= last)
    names = []
    for _, _, keys in here:
        names += [k for k in keys if k not in names]
    return names


def _label_tests(qa, qa_config, script):
    """Print, before each test, the config keys that switch it off.

    ``RunTestIf(keys, fn)`` names them.  A test QA runs with a bare
    ``RunTest`` gets: for an instance-creating function, its key from
    ``qa_instance.available_instance_tests``; otherwise the keys of the
    ``if`` blocks of ganeti-qa.py it stands in (``if
    qa_config.TestEnabled("instance-rename"): ... RunTest(...)``, ``if
    qa_rapi.Enabled(): ...``), found from the script's syntax tree, then
    the key of the instance under test.  Tests QA runs always get none.
    """
    state = {"in_if": False, "gates": {}, "instance": []}
    creators = {}
    try:
        from qa import qa_instance
        for entry in qa_instance.available_instance_tests:
            creators[entry[2]] = entry[0]
    except (ImportError, AttributeError, IndexError, TypeError):
        pass

    test_enabled = qa_config.TestEnabled

    def TestEnabled(tests, *args, **kwargs):  # noqa: N802 (QA's name)
        enabled = test_enabled(tests, *args, **kwargs)
        caller = sys._getframe(1)
        if caller.f_code.co_filename == script and caller.f_code.co_name != "RunTestIf":
            if enabled:
                _open_gate(state, _names(tests), caller)
            else:
                _close_gate(state, caller)
        return enabled

    qa_config.TestEnabled = TestEnabled
    _gate_on_rapi(script, state)
    run_test_if, run_test = qa.RunTestIf, qa.RunTest

    def RunTestIf(testnames, fn, *args, **kwargs):  # noqa: N802
        if not test_enabled(testnames):
            return run_test_if(testnames, fn, *args, **kwargs)
        print("%s names %s" % (MARK, json.dumps(_names(testnames))), flush=True)
        state["in_if"] = True
        try:
            return run_test_if(testnames, fn, *args, **kwargs)
        finally:
            state["in_if"] = False

    def RunTest(fn, *args, **kwargs):  # noqa: N802
        if not state["in_if"]:
            if fn in creators:
                state["instance"] = [creators[fn]]
                names = state["instance"]
            else:
                gate = _gated(state, sys._getframe(1))
                names = gate + [n for n in state["instance"] if n not in gate]
            print("%s names %s" % (MARK, json.dumps(names)), flush=True)
        state["in_if"] = False  # tests inside this one are its own
        return run_test(fn, *args, **kwargs)

    qa.RunTestIf, qa.RunTest = RunTestIf, RunTest


def main(argv):
    ignore = []
    rapi = upgrade = False
    while argv and argv[0] in ("--ignore-verify-error", "--rapi", "--upgrade-without-2.16-keys"):
        if argv[0] == "--rapi":
            rapi = True
            argv = argv[1:]
        elif argv[0] == "--upgrade-without-2.16-keys":
            upgrade = True
            argv = argv[1:]
        else:
            ignore.append(argv[1])
            argv = argv[2:]
    script = os.path.abspath(argv[0])
    # As when run as a script: its own directory first (some qa_*.py
    # "import colors"), and its parent for "from qa import ...".
    sys.path[:0] = [os.path.dirname(script), os.path.dirname(os.path.dirname(script))]
    spec = importlib.util.spec_from_file_location("ganeti_qa", script)
    qa = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(qa)
    from qa import qa_config  # noqa: E402 (needs the path above)

    _label_tests(qa, qa_config, script)

    if ignore:
        # QA imports qa_utils twice, as "qa.qa_utils" and as "qa_utils":
        # two module objects, each with its own GetSSHCommand.
        for name in ("qa.qa_utils", "qa_utils"):
            module = sys.modules.get(name)
            if module is not None:
                module.GetSSHCommand = _ignoring(module.GetSSHCommand, ignore)

    if rapi:
        _rapi_on_virtual_cluster()

    if upgrade and _upgrade_without_216_keys():
        print("%s workaround upgrade-2.16-keys: TestUpgrade without its 2.16-only "
              "SSH key downgrade step" % MARK, flush=True)

    sys.argv = [script] + argv[1:]
    qa.main()


if __name__ == "__main__":
    main(sys.argv[1:])
