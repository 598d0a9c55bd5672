"""ganeti/qa/driver.py, which runs inside the cluster: labels and workarounds."""

from vcluster_ns.ganeti.qa import driver


def test_driver_names_and_verify_workaround(capsys):
    class Either:
        tests = ["a", ["b", "c"]]
    assert driver._names(["x", Either(), len]) == ["x", "a", "b", "c"]
    calls = []
    wrapped = driver._ignoring(lambda node, cmd, **kw: calls.append(cmd) or [cmd],
                               ["ENODESETUP"])
    wrapped("node1", "gnt-cluster verify")
    wrapped("node1", "gnt-cluster verify-disks")
    wrapped("node1", "gnt-cluster verify --error-codes")
    assert calls == ["gnt-cluster verify --ignore-errors=ENODESETUP",
                     "gnt-cluster verify-disks",
                     "gnt-cluster verify --ignore-errors=ENODESETUP --error-codes"]
    assert capsys.readouterr().out.count("==== vcluster-ns workaround ENODESETUP") == 2


def test_driver_rapi_view_turns_off_virtual_cluster_for_qa_rapi_only(monkeypatch):
    """--rapi: qa_rapi sees a cluster that is not virtual; qa_config itself,
    and every other module, keep QA's virtual-cluster mode."""
    import sys
    import types

    config = types.ModuleType("qa.qa_config")
    config.UseVirtualCluster = lambda: True
    config.TestEnabled = lambda names: True
    rapi = types.ModuleType("qa.qa_rapi")
    rapi.qa_config = config
    exec("def Enabled():\n"
         "    return qa_config.TestEnabled('rapi') and not qa_config.UseVirtualCluster()\n",
         rapi.__dict__)
    other = types.ModuleType("qa_utils")
    other.qa_config = config
    monkeypatch.setitem(sys.modules, "qa.qa_rapi", rapi)
    monkeypatch.delitem(sys.modules, "qa_rapi", raising=False)
    assert rapi.Enabled() is False
    driver._rapi_on_virtual_cluster()
    assert rapi.Enabled() is True
    assert rapi.qa_config.TestEnabled is config.TestEnabled  # the rest is QA's own
    assert config.UseVirtualCluster() is True and other.qa_config is config
    # RunTestIf(qa_rapi.Enabled, ...) carries the "rapi" key, for --keep-going
    rapi.Enabled.__module__ = "qa.qa_rapi"
    assert driver._names([rapi.Enabled, "instance-shutdown"]) == \
        ["rapi", "instance-shutdown"]


# QA's two runners, as ganeti-qa.py has them (the driver wraps both).
FAKE_RUNNERS = """
def RunTest(fn, *args):
    fn(*args)

def RunTestIf(names, fn, *args):
    if qa_config.TestEnabled(names):
        RunTest(fn, *args)
"""

FAKE_QA = FAKE_RUNNERS + """
def RunQa():
    RunTestIf("cluster-info", TestInfo)
    RunTest(TestAlways)
    RunTest(TestInstanceAddFile)
    if qa_config.TestEnabled("instance-rename"):
        RunTest(TestRename)
        RunTestIf("cluster-info", TestInfo)
        RunTest(TestRename)
    RunTestIf("off", TestInfo)
    RunTest(TestRename)
    RunTestIf("cluster-info", TestInfo)
    RunTest(TestInstanceRemove)
"""


def test_driver_labels_tests_run_without_runtestif(capsys, monkeypatch, tmp_path):
    import sys
    import types

    config = types.SimpleNamespace(TestEnabled=lambda names: names != "off")
    qa_instance = types.ModuleType("qa.qa_instance")
    module = types.ModuleType("fake_qa")
    module.qa_config = config
    for name in ("TestInfo", "TestAlways", "TestInstanceAddFile", "TestRename",
                 "TestInstanceRemove"):
        setattr(module, name, lambda: None)
    qa_instance.available_instance_tests = [
        ("instance-add-file", "file", module.TestInstanceAddFile, 1)]
    monkeypatch.setitem(sys.modules, "qa.qa_instance", qa_instance)
    monkeypatch.setitem(sys.modules, "qa", types.ModuleType("qa"))
    sys.modules["qa"].qa_instance = qa_instance
    script = tmp_path / "ganeti-qa.py"  # the driver reads the if blocks from it
    script.write_text(FAKE_QA)
    exec(compile(FAKE_QA, str(script), "exec"), module.__dict__)
    driver._label_tests(module, config, str(script))
    module.RunQa()
    lines = [l for l in capsys.readouterr().out.splitlines()]
    assert lines == ['==== vcluster-ns names ["cluster-info"]',
                     '==== vcluster-ns names []',
                     '==== vcluster-ns names ["instance-add-file"]',
                     '==== vcluster-ns names ["instance-rename", "instance-add-file"]',
                     '==== vcluster-ns names ["cluster-info"]',
                     # the if block's key holds after a RunTestIf inside it
                     # (QA's second TestInstanceRenameAndBack)...
                     '==== vcluster-ns names ["instance-rename", "instance-add-file"]',
                     # ...and not after the block
                     '==== vcluster-ns names ["instance-add-file"]',
                     '==== vcluster-ns names ["cluster-info"]',
                     '==== vcluster-ns names ["instance-add-file"]']


def test_driver_labels_tests_qa_runs_after_checking_qa_rapi_enabled(capsys, monkeypatch,
                                                                   tmp_path):
    import sys
    import types

    config = types.SimpleNamespace(TestEnabled=lambda names: names != "off")
    rapi = types.ModuleType("qa.qa_rapi")
    exec("def Enabled():\n    return True\n", rapi.__dict__)
    monkeypatch.setitem(sys.modules, "qa.qa_rapi", rapi)
    monkeypatch.setitem(sys.modules, "qa", types.ModuleType("qa"))
    module = types.ModuleType("fake_qa")
    module.qa_config, module.qa_rapi, module.TestNode = config, rapi, lambda: None
    source = ("def RunTest(fn, *args):\n    fn(*args)\n"
              "def RunTestIf(names, fn, *args):\n"
              "    if qa_config.TestEnabled(names):\n        RunTest(fn, *args)\n"
              "def RunQa():\n"
              "    if qa_rapi.Enabled():\n        RunTest(TestNode)\n"
              "    RunTest(TestNode)\n")
    script = tmp_path / "ganeti-qa.py"
    script.write_text(source)
    exec(compile(source, str(script), "exec"), module.__dict__)
    driver._label_tests(module, config, str(script))
    module.RunQa()
    assert capsys.readouterr().out.splitlines() == ['==== vcluster-ns names ["rapi"]',
                                                    '==== vcluster-ns names []']
    assert rapi.Enabled.__name__ == "Enabled"  # still recognised by _names


FAKE_INSTANCE_LOOP = FAKE_RUNNERS + """
def RunQa():
    for key, create in (("instance-add-file", TestInstanceAddFile),
                        ("instance-add-rbd", TestInstanceAddRbd),
                        ("instance-add-shared-file", TestInstanceAddSharedFile)):
        if qa_config.TestEnabled(key) and key != "instance-add-rbd":
            RunTest(create)
            if qa_config.TestEnabled("instance-convert-disk"):
                if key == "instance-add-file":
                    RunTest(TestConvert)
            RunTest(TestInstanceRemove)
"""


def test_driver_labels_with_the_innermost_gate_first_and_this_iterations(
        capsys, monkeypatch, tmp_path):
    # ganeti-qa.py's RunInstanceTests: the loop's own "if TestEnabled(test_name)"
    # holds an "if TestEnabled('instance-convert-disk')": the conversion
    # belongs to instance-convert-disk (its shard reports it), and the
    # second instance's tests to the second instance, not to the first
    # one's gate left open by the loop's first pass.
    import sys
    import types

    config = types.SimpleNamespace(TestEnabled=lambda names: names != "off")
    qa_instance = types.ModuleType("qa.qa_instance")
    module = types.ModuleType("fake_qa")
    module.qa_config = config
    for name in ("TestInstanceAddFile", "TestInstanceAddRbd", "TestInstanceAddSharedFile",
                 "TestConvert", "TestInstanceRemove"):
        setattr(module, name, lambda: None)
    qa_instance.available_instance_tests = []  # labelled by the gates alone
    monkeypatch.setitem(sys.modules, "qa.qa_instance", qa_instance)
    monkeypatch.setitem(sys.modules, "qa", types.ModuleType("qa"))
    sys.modules["qa"].qa_instance = qa_instance
    script = tmp_path / "ganeti-qa.py"
    script.write_text(FAKE_INSTANCE_LOOP)
    exec(compile(FAKE_INSTANCE_LOOP, str(script), "exec"), module.__dict__)
    driver._label_tests(module, config, str(script))
    module.RunQa()
    assert capsys.readouterr().out.splitlines() == [
        '==== vcluster-ns names ["instance-add-file"]',
        '==== vcluster-ns names ["instance-convert-disk", "instance-add-file"]',
        '==== vcluster-ns names ["instance-add-file"]',
        '==== vcluster-ns names ["instance-add-shared-file"]',
        '==== vcluster-ns names ["instance-add-shared-file"]']


QA_CLUSTER = '''
import constants, qa_error
calls = []

def AssertCommand(cmd):
  calls.append(cmd)

def TestUpgrade():
  """Test gnt-cluster upgrade."""
  this_version = "3.0"
  # 2.16 only - prior to performing a downgrade, ...
  if constants.VERSION_MINOR != 16:
    raise qa_error.Error("Please remove the key type downgrade code in 2.17")
  AssertCommand(["gnt-cluster", "renew-crypto", "--no-ssh-key-check", "-f",
                 "--new-ssh-keys", "--ssh-key-type=dsa"])
  AssertCommand(["gnt-cluster", "upgrade", "--to", this_version])
'''


def test_driver_upgrade_test_without_its_216_step(tmp_path, monkeypatch, capsys):
    import sys
    import types

    source = tmp_path / "qa_cluster.py"
    source.write_text(QA_CLUSTER)
    module = types.ModuleType("qa.qa_cluster")
    module.__file__ = str(source)
    monkeypatch.setitem(sys.modules, "constants", types.SimpleNamespace(VERSION_MINOR=0))
    monkeypatch.setitem(sys.modules, "qa_error", types.SimpleNamespace(Error=RuntimeError))
    exec(compile(QA_CLUSTER, str(source), "exec"), module.__dict__)
    monkeypatch.setitem(sys.modules, "qa.qa_cluster", module)
    monkeypatch.delitem(sys.modules, "qa_cluster", raising=False)
    try:
        module.TestUpgrade()
        raise AssertionError("QA's own TestUpgrade should raise on 3.x")
    except RuntimeError as exc:
        assert "2.17" in str(exc)
    assert driver._upgrade_without_216_keys() is True
    module.TestUpgrade()
    assert module.calls == [["gnt-cluster", "upgrade", "--to", "3.0"]]  # the rest, as QA has it
    # A QA without that step (a fixed one): nothing changed, nothing reported.
    fixed = tmp_path / "fixed.py"
    fixed.write_text("def TestUpgrade():\n  return 'as is'\n")
    exec(compile(fixed.read_text(), str(fixed), "exec"), module.__dict__)
    assert driver._upgrade_without_216_keys() is False
    assert module.TestUpgrade() == "as is"


def test_driver_upgrade_judged_by_verify_with_the_option(capsys):
    calls = []
    wrapped = driver._ignoring(lambda node, cmd, **kw: calls.append(cmd) or [cmd],
                               ["ENODESETUP"])
    wrapped("node1", "gnt-cluster upgrade --to 3.1 >> /var/log/qa-output")
    [cmd] = calls
    assert cmd.startswith("err=$(mktemp); { gnt-cluster upgrade --to 3.1 >> /var/log/qa-output; }")
    assert "gnt-cluster verify --ignore-errors=ENODESETUP" in cmd
    assert "workaround ENODESETUP: gnt-cluster upgrade" in capsys.readouterr().out
