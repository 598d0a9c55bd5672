"""Ganeti release versions: their order, and ranges of them.

Ganeti names its releases ``MAJOR.MINOR.REVISION`` with an optional
suffix after ``~`` (``RELEASE_VERSION`` in ``_constants.py``, from
``configure.ac``): ``3.0.2``, ``3.1.0~rc1``, and master's ``3.2.0~alpha1``.
As in Debian's ordering, a suffixed version comes *before* the release it
leads to: ``3.2.0~alpha1 < 3.2.0~rc1 < 3.2.0``.  Master is thus ordered by
the release it prepares, never assumed to be "newest".

``VersionRange`` is a half-open range ``[first, before)``, either bound
open; ``VersionRange()`` holds for every version.  Pure functions, no I/O.
"""

from __future__ import annotations

import dataclasses
import re

_RELEASE = re.compile(r"(\d+(?:\.\d+)*)(?:~(.+))?")


def release_key(version: str) -> tuple:
    """A sort key for a Ganeti release version.  Raises ValueError for a
    string that is not one (``3.0.2``, ``3.2.0~alpha1``)."""
    match = _RELEASE.fullmatch(version.strip())
    if match is None:
        raise ValueError(f"not a Ganeti release version: {version!r}")
    numbers = [int(p) for p in match.group(1).split(".")]
    numbers += [0] * (3 - len(numbers))  # "3.1" is "3.1.0"
    suffix = match.group(2)
    # (0, suffix) sorts before (1, ""): a pre-release before its release.
    # Suffixes compare by their letters, then numerically by their digits.
    pre = (0, tuple(int(p) if p.isdigit() else p
                    for p in re.findall(r"\d+|[a-z]+", suffix.lower()))) \
        if suffix else (1, ())
    return (tuple(numbers), pre)


@dataclasses.dataclass(frozen=True)
class VersionRange:
    """The versions from ``first`` (included) up to ``before`` (excluded);
    None leaves that side open."""

    first: str | None = None
    before: str | None = None

    def __post_init__(self) -> None:
        for bound in (self.first, self.before):
            if bound is not None:
                release_key(bound)  # a typo here must fail at import, not at a run
        if self.first and self.before and \
                release_key(self.first) >= release_key(self.before):
            raise ValueError(f"empty version range: {self}")

    def __contains__(self, version: str) -> bool:
        key = release_key(version)
        if self.first is not None and key < release_key(self.first):
            return False
        return self.before is None or key < release_key(self.before)

    @property
    def everywhere(self) -> bool:
        return self.first is None and self.before is None

    def __str__(self) -> str:
        if self.everywhere:
            return "every Ganeti version"
        parts = ([f">={self.first}"] if self.first else []) + \
            ([f"<{self.before}"] if self.before else [])
        return "Ganeti " + ",".join(parts)


EVERY_VERSION = VersionRange()
