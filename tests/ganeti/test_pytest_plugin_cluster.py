"""The pytest plugin brings up a real cluster for a developer's test (pytester).

EXAMPLE is the test shown in docs/api.md, run as a developer would run it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hostsnap import HostSnapshot

EXAMPLE = (Path(__file__).parents[2] / "docs" / "api.md").read_text() \
    .split("```python\n# test_my_ganeti.py\n", 1)[1].split("```", 1)[0]


def test_documented_example_passes_and_cleans_up(pytester):
    before = HostSnapshot.take()
    pytester.makepyfile(test_my_ganeti=EXAMPLE)
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider", timeout=900)
    result.assert_outcomes(passed=3)
    # The plugin's clusters live in temporary roots named vcluster-*; other
    # clusters of this user (another test run) may come and go meanwhile.
    plugin_roots = f"{tempfile.gettempdir()}/vcluster-*"
    assert before.differences(HostSnapshot.take(), owner=plugin_roots) == []
