"""ganeti/qa/suite.py: where an installation keeps QA, and staging it."""

from vcluster_ns.ganeti.qa.suite import qa_installation


def test_installation_paths_follow_the_root(tmp_path):
    inst = qa_installation(tmp_path)
    assert inst.qa_dir == tmp_path / "usr/share/ganeti/testsuite/qa"
    assert inst.script == inst.qa_dir / "ganeti-qa.py"
    assert "not installed" in inst.missing()
    inst.qa_dir.mkdir(parents=True)
    inst.script.write_text("")
    assert "Python package" in inst.missing()
    (tmp_path / "usr/share/ganeti/default/ganeti").mkdir(parents=True)
    assert qa_installation(tmp_path).missing() is None


def test_installed_qa_is_staged_with_burnin_where_qa_looks(tmp_path):
    root = tmp_path / "root"
    (root / "usr/share/ganeti/testsuite/qa").mkdir(parents=True)
    (root / "usr/share/ganeti/testsuite/qa/ganeti-qa.py").write_text("# qa\n")
    (root / "usr/lib/ganeti/tools").mkdir(parents=True)
    (root / "usr/lib/ganeti/tools/burnin").write_text("# burnin\n")
    inst = qa_installation(root)
    assert inst.burnin == root / "usr/lib/ganeti/tools/burnin"
    staged = inst.staged(tmp_path / "stage")
    assert staged.script.read_text() == "# qa\n"
    # QA's own lookup: dirname(realpath(qa_cluster.py)) + "/../tools/burnin"
    assert (staged.qa_dir / "../tools/burnin").read_text() == "# burnin\n"
    assert staged.pythonpath == inst.pythonpath


def test_source_tree_qa_is_run_where_it_is(tmp_path):
    (tmp_path / "src/qa").mkdir(parents=True)
    (tmp_path / "src/tools").mkdir()
    (tmp_path / "src/tools/burnin").write_text("")
    inst = qa_installation(tmp_path / "nothing", qa_dir=tmp_path / "src/qa")
    assert inst.staged(tmp_path / "stage") is inst
    assert not (tmp_path / "stage").exists()


def test_installation_of_a_source_tree_puts_its_lib_first(tmp_path):
    (tmp_path / "src/qa").mkdir(parents=True)
    (tmp_path / "src/lib").mkdir()
    (tmp_path / "src/lib/__init__.py").write_text("")
    inst = qa_installation(tmp_path, qa_dir=tmp_path / "src/qa")
    assert inst.pythonpath[0] == str(tmp_path / "src")
