"""Shared fixtures: tiers, the CLI as a subprocess, host snapshots."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


pytest_plugins = ["pytester"]

TIER_DIRS = {"namespace": "namespace", "ganeti": "ganeti"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIER_DIRS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))


