"""The pytest plugin registers its fixtures and options (pytester, no cluster)."""

from __future__ import annotations


def test_fixtures_and_options_are_registered(pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    fixtures = pytester.runpytest_subprocess("--fixtures")
    fixtures.stdout.fnmatch_lines_random([
        "vcluster -- *", "vcluster_factory -- *", "vcluster_session *session scope*"])
    helptext = pytester.runpytest_subprocess("--help")
    helptext.stdout.fnmatch_lines(["*--vcluster-nodes*", "*--vcluster-isolation*",
                                  "*--vcluster-ganeti*"])


def test_isolation_option_is_validated(pytester):
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--vcluster-isolation=bogus")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*invalid choice*"])
