"""docs/errors.md (and faults.md's table) agree with the code.

Two checks:

- every documented message, its example values left out, is made of text
  that is in vcluster_ns's own string literals (f-strings' fields are
  holes), so a message reworded in the code, or one the code never gives,
  fails here; messages from click itself, the OS (strerror) or Ganeti are
  listed explicitly;
- the cheap rows (no cluster, or a cluster on disk only) are produced for
  real with click's CliRunner, and the actual line must match *that row's*
  message, so a row naming the right text for the wrong situation fails too.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from vcluster_ns.cli import main
from vcluster_ns.spec import ClusterSpec

REPO = Path(__file__).resolve().parents[2]
HOLE = "\0"

# Documented text that is not vcluster-ns's own, so not in its source.
NOT_OURS = {
    "Invalid value for '--network-mode'": "click's own usage error",
    "No such file or directory": "strerror", "Permission denied": "strerror",
    "No space left on device": "strerror", "Address already in use": "strerror",
    "Operation not permitted": "strerror",
    "ModuleNotFoundError": "Python, through doctor's import check",
    "has host bits set": "Python's ipaddress",
}
# Where a documented message stands for a value: "...", "<its last line>".
PLACEHOLDER = re.compile(r"\.\.\.|<[^>]*>")


def table_rows(doc: str, heading: str) -> list[tuple[str, str, str]]:
    """(situation, code, message column) of the table under ``heading``."""
    text = (REPO / "docs" / doc).read_text()
    section = text.split(heading, 1)[1]
    rows = []
    for line in section.splitlines():
        if rows and not line.startswith("|"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 3 and cells[1] not in ("code", "---"):
            rows.append((cells[0], cells[1], cells[2]))
    return rows


ROWS = table_rows("errors.md", "## The errors") + table_rows("faults.md", "Errors follow")


def messages(column: str) -> list[str]:
    """The backticked messages of a message column (click: prefixes dropped)."""
    return [m.replace("\\|", "|") for m in re.findall(r"`([^`]+)`", column)]


def source_literals() -> list[str]:
    """Every string literal of vcluster_ns, f-string fields as HOLE."""
    found = []
    for path in (REPO / "vcluster_ns").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr):
                found.append("".join(v.value if isinstance(v, ast.Constant) else HOLE
                                     for v in node.values))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append(node.value)
    return found


LITERALS = source_literals()
# Whole constants, which may fill an f-string's field ("cluster name" in
# f"invalid {what} {name!r}"): a field filled by one of two words or more
# counts as the code's text (single words are everywhere).
CONSTANTS = {text for text in LITERALS if HOLE not in text}
GAP = None  # a token that is a whole field: it takes 0 to 3 words
# A field at a fragment's edge may hold a constant cut there: its first (last) words.
STARTS = {" ".join(c.split()[:n]) for c in CONSTANTS for n in range(1, len(c.split()) + 1)}
ENDS = {" ".join(c.split()[-n:]) for c in CONSTANTS for n in range(1, len(c.split()) + 1)}


def template_tokens(literal: str) -> list:
    """A literal's words as regexes (a field inside a word: any text); a
    field on its own: GAP."""
    out = []
    for word in literal.split():
        if word.strip(HOLE + "'\"") == "":
            out.append(GAP)
        else:
            out.append((re.compile(".*".join(re.escape(p) for p in word.split(HOLE))), word))
    return out


TEMPLATES = [template_tokens(text) for text in LITERALS if len(text.split()) >= 2]
WORDS = [{w for w in text.split() if HOLE not in w} for text in LITERALS if len(text.split()) >= 2]


def fragments(message: str) -> list[str]:
    """The fixed text of a documented message: split where an example value
    (quoted, a number, a path or address, a placeholder) or a seam (" (",
    ": ", "; ", ", ") stands; fragments of fewer than 3 words are dropped."""
    for text in NOT_OURS:
        message = message.replace(text, HOLE)
    message = PLACEHOLDER.sub(HOLE, message)
    message = re.sub(r"(?<!\w)'[^']*'(?!\w)|\"[^\"]*\"", HOLE, message)  # quoted values
    words = []
    for word in message.split(" "):
        value = (re.search(r"\d|^[/~$.\[]|/", word) and not word.startswith("--")
                 or word in ("=", "-"))
        words.append(HOLE if value else word)
    pieces = re.split(rf"{HOLE}|\(|\)|: |; |, ", " ".join(words))
    return [p.strip(" ,.") for p in pieces if len(p.split()) >= 3]


@functools.lru_cache(maxsize=None)
def _cut(word: str, raw: str, first: bool) -> bool:
    """A fragment's first (last) word may be the end (beginning) of a token."""
    pieces = [re.escape(p) for p in raw.split(HOLE)]
    if first:
        return any(re.fullmatch(".*" + ".*".join(pieces[k:]), word) for k in range(len(pieces))) \
            or raw.split(HOLE)[-1].endswith(word)
    return any(re.fullmatch(".*".join(pieces[:k]) + ".*", word) for k in range(1, len(pieces))) \
        or raw.split(HOLE)[0].startswith(word)


def _align(words: list[str], tokens: list, wi: int, ti: int) -> int | None:
    """How many of ``words[wi:]`` the code's text covers when they run along
    ``tokens[ti:]`` (None: they do not fit)."""
    if wi == len(words):
        return 0
    if ti == len(tokens):
        return None
    token = tokens[ti]
    if token is GAP:
        best = None
        if wi == 0 or ti == len(tokens) - 1:  # a field at the fragment's edge
            for take in range(1, len(words) - wi + 1):
                filled = " ".join(words[wi:wi + take])
                if take >= 2 and filled in (ENDS if wi == 0 else STARTS):
                    rest = _align(words, tokens, wi + take, ti + 1)
                    if rest is not None:
                        best = max(best or 0, rest + take)
        for take in range(0, min(3, len(words) - wi) + 1):
            rest = _align(words, tokens, wi + take, ti + 1)
            if rest is not None:
                filled = " ".join(words[wi:wi + take])
                covered = rest + (take if take >= 2 and filled in CONSTANTS else 0)
                best = covered if best is None else max(best, covered)
        return best
    word, (pattern, raw) = words[wi], token
    if pattern.fullmatch(word) or wi == 0 and _cut(word, raw, first=True) \
            or wi == len(words) - 1 and _cut(word, raw, first=False):
        rest = _align(words, tokens, wi + 1, ti + 1)
        return None if rest is None else rest + 1
    return None


def found_in_source(fragment: str) -> bool:
    """Does the fragment run along some literal of vcluster_ns, its fields
    taking a few words each, with most of its words the code's own text?"""
    words = fragment.split()
    need = max(2, len(words) - max(1, len(words) // 3))  # fields: a third of the words
    wanted = set(words)
    for tokens, known in zip(TEMPLATES, WORDS):
        if not wanted & known:
            continue
        for start in range(len(tokens)):
            covered = _align(words, tokens, 0, start)
            if covered is not None and covered >= need:
                return True
    return False


@pytest.mark.parametrize("situation, code, column", ROWS, ids=[r[0][:50] for r in ROWS])
def test_documented_messages_are_the_codes(situation, code, column):
    checked = [f for m in messages(column) for f in fragments(m)]
    missing = [f for f in checked if not found_in_source(f)]
    assert not missing, f"{situation!r}: not in vcluster_ns's source: {missing}"


def test_the_tables_are_read():
    assert len(ROWS) > 60
    assert sum(1 for r in ROWS for m in messages(r[2]) for _ in fragments(m)) > 150


def test_a_reworded_message_is_caught():
    assert fragments("invalid node count 0 (give at least 1 node)") == [
        "invalid node count", "give at least"]
    assert found_in_source("invalid node count")
    assert not found_in_source("invalid count of nodes")
    assert found_in_source("invalid cluster name")  # f"invalid {kind} ...", "cluster name"
    assert not found_in_source("invalid cluster label")
    assert not all(found_in_source(f) for f in fragments(
        "cluster.toml: nodes.node4: node4 is past the node count (raise it to at least 4)"))


# Rows with no fixed text of 3 words or more to look for, and why.
NOTHING_TO_CHECK = {
    "`--network-mode` other than isolated/shared": "click's own message",
    "`run NODE` without a command": "quoted only; produced below",
    "`gnt-cluster init` or `gnt-node add` fails": "Ganeti's line, values around 'failed on'",
    "`--ganeti PATH` missing daemons or scripts": "paths and versions between short words",
    "`qa`: a selected QA test failed": "a summary, not a message",
    "no netem": "faults.md points to the message above it",
    "`up` for more nodes than `user.max_*_namespaces` allow": "sysctl names and numbers; "
    "test_doctor.py checks the text",
}


def test_rows_without_text_to_check_are_listed():
    empty = {situation for situation, _, column in ROWS
             if not [f for m in messages(column) for f in fragments(m)]}
    assert empty == set(NOTHING_TO_CHECK)


# -- cheap rows, produced for real -------------------------------------------

def row(key: str) -> tuple[str, str, str]:
    found = [r for r in ROWS if key == r[0]] or [r for r in ROWS if key in r[0]]
    assert len(found) == 1, f"{key!r} names {len(found)} rows of errors.md"
    return found[0]


def matches(documented: str, actual: str) -> bool:
    """``actual`` starts as ``documented`` does, placeholders standing for any text."""
    pattern = ".*?".join(re.escape(p) for p in PLACEHOLDER.split(documented))
    return re.match(pattern, actual) is not None


HETEROGENEOUS = str(REPO / "docs/examples/heterogeneous.toml")

# (row's situation, which of its messages, arguments, a cluster on disk: True,
# none: False, no --root at all: None)
CASES = [
    ("`up --nodes 0` or negative", 0, ["up", "--nodes", "0"], False),
    ("more than 2000 nodes", 0, ["up", "--nodes", "3000", "--network", "198.18.0.0/16"],
     False),
    ("cluster name with `/`", 0, ["--cluster", "Bad/Name", "status"], False),
    ("invalid `--domain`", 0, ["up", "--domain", "x..y"], False),
    ("invalid `--network`, host bits", 0, ["up", "--network", "10.0.0.1/8"], False),
    ("IPv6 `--network`", 0, ["up", "--network", "fd00::/64"], False),
    ("`--secondary-network` overlapping", 0,
     ["up", "--secondary-network", "192.0.2.128/25"], False),
    ("cluster file naming a node beyond the count", -1,
     ["up", "-f", HETEROGENEOUS, "--nodes", "3"], False),
    ("`shell` without `-c`", 0, ["shell"], True),
    ("`run NODE` without a command", 0, ["run", "node1"], False),
    ("`--root` relative", 0, ["--root", "x", "status"], None),
    ("`--root \"\"`", 0, ["--root", "", "status"], None),
    ("no such cluster", 0, ["--cluster", "x", "status"], False),
    ("`snapshot NAME` of no such cluster", 0, ["--cluster", "x", "snapshot", "y"], False),
    ("`destroy` without `--yes`", 0, ["destroy"], True),
    ("unknown node in `run`", 0, ["logs", "node9"], True),
    ("cluster not up (`run`", 0, ["node", "stop", "node1"], True),
    ("`snapshot` without NAME and without `--list`", 0, ["snapshot"], False),
    ("`snapshot` without NAME and without `--list`", 0, ["snapshot", "--json"], False),
    ("`snapshot --list NAME`", 0, ["snapshot", "--list", "x"], False),
    ("`snapshot --force` or `--stop`", 0, ["snapshot", "--delete", "x", "--stop"], False),
    ("`snapshot NAME --json`", 0, ["snapshot", "x", "--json"], False),
    ("`up --reset` without", 0, ["up", "--reset"], False),
    ("`up --from-snapshot`, `snapshot --delete`: no such snapshot", 0,
     ["snapshot", "--delete", "x"], False),
    ("`snapshot NAME` with an invalid name", 0, ["snapshot", "Bad/x"], True),
    ("`up` with options that differ", 0, ["up", "--nodes", "5"], True),
]


@pytest.mark.parametrize("key, index, args, down_cluster", CASES,
                         ids=[" ".join(c[2])[-40:] for c in CASES])
def test_cheap_rows_give_their_documented_message(tmp_path, monkeypatch, key, index, args,
                                                  down_cluster):
    monkeypatch.delenv("VCLUSTER_NS_ROOT", raising=False)
    monkeypatch.delenv("VCLUSTER_NS_CLUSTER", raising=False)
    situation, code, column = row(key)
    documented = messages(column)[index].removeprefix("click: ")
    root = tmp_path / "root"
    if down_cluster:  # a cluster on disk, not up: only its spec file
        (root / "default").mkdir(parents=True)
        ClusterSpec(name="default", nodes=3).save(root / "default" / "cluster.json")
    argv = args if down_cluster is None else ["--root", str(root), *args]
    result = CliRunner().invoke(main, argv)
    assert str(result.exit_code) == code.split()[0], (situation, result.output)
    lines = [line.removeprefix("Error: ") for line in result.stderr.splitlines()
             if line.startswith("Error: ")]
    assert len(lines) == 1, result.stderr
    actual = lines[0].replace(str(root), "/root/dir")
    assert matches(documented, actual), f"{situation!r}\n documented: {documented}\n" \
                                        f" actual:     {actual}"
