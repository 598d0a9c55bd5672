"""QA's output read into results, line by line as QA prints it.

``ganeti-qa.py``'s ``RunTest`` prints a header around every test (start,
PASSED/FAILED with QA's message, end with its time) and a line for each
test it skips; ``driver.py`` adds, before each test, the QA config keys
that switch it off, and a line for each use of a workaround.
``QaOutput`` turns those into ``TestResult``s as they end (for progress),
and on ``close`` turns an unfinished test or a crash outside any test
into an error result.  ``parse`` reads a recorded output at once.

Run on the host, on the output streamed back from the cluster; the
regular expressions here and the ``==== vcluster-ns`` lines driver.py
prints are one format written in two places, since the driver may import
nothing of vcluster-ns.
"""

from __future__ import annotations

import dataclasses
import json
import re

PASSED, FAILED, SKIPPED, ERROR = "passed", "failed", "skipped", "error"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?"
# RunTest's headers (ganeti-qa.py's _FormatHeader: 4 marks, text, dashes).
START = re.compile(rf"^<<<< {STAMP} start (?P<desc>.*?)(?: -+)?$")
RESULT = re.compile(r"^---- (?P<what>PASSED|FAILED) (?P<rest>.*)$")
END = re.compile(rf"^>>>> {STAMP} time=(?P<time>[\d:.]+) (?P<desc>.*?)(?: -+)?$")
SKIP = re.compile(rf"^\*\*\*\* {STAMP} skipping (?P<desc>.*), test\(s\) (?P<names>.*) "
                  r"disabled(?: -+)?$")
FUNC = re.compile(r"^\[(?P<func>[^\]]+)\] ?(?P<text>.*)$")
# QA names a test without a docstring by its repr (TestInstanceDeviceNames).
FUNC_REPR = re.compile(r"^<function (?P<func>[\w.]+) at 0x[0-9a-fA-F]+>")
NAMES = re.compile(r"^==== vcluster-ns names (?P<json>\[.*\])$")
WORKAROUND = re.compile(r"^==== vcluster-ns workaround (?P<text>.*)$")


@dataclasses.dataclass
class TestResult:
    """One test QA ran (or reported skipped)."""

    # Named Test*: pytest would try to collect it where tests import it.
    __test__ = False

    func: str              # QA's function, e.g. TestClusterInit
    description: str       # its docstring's first line
    status: str            # passed / failed / skipped / error
    names: list[str] = dataclasses.field(default_factory=list)  # QA config keys
    seconds: float | None = None
    message: str = ""      # QA's failure message
    output: list[str] = dataclasses.field(default_factory=list)  # lines while it ran
    attempt: int = 1
    shard: int | None = None  # the shard that ran it (qa --shards)

    @property
    def label(self) -> str:
        return self.func


def _seconds(text: str) -> float | None:
    """datetime.timedelta's str: [D day[s], ]H:MM:SS[.ffffff]."""
    m = re.search(r"(?:(\d+) days?, )?(\d+):(\d\d):(\d\d(?:\.\d+)?)$", text)
    if not m:
        return None
    days, h, mi, s = m.groups()
    return int(days or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(s)


def _split(desc: str) -> tuple[str, str]:
    m = FUNC.match(desc.strip())
    if m:
        return m["func"], m["text"].strip()
    m = FUNC_REPR.match(desc.strip())
    if m:
        return m["func"], ""
    return desc.strip(), desc.strip()


class QaOutput:
    """Reads QA's stdout line by line; ``results`` grows as tests end.

    ``on_result`` (optional) is called with each finished TestResult and
    ``on_start`` with each test as it starts, for progress.  Skips reported
    by QA itself ("test(s) ... disabled") are results too, with status
    ``skipped``.
    """

    def __init__(self, on_result=None, attempt: int = 1, keep_lines: int = 200,
                 on_start=None):
        self.results: list[TestResult] = []
        self.workarounds: list[str] = []
        self.on_result = on_result
        self.on_start = on_start
        self.attempt = attempt
        self.keep_lines = keep_lines
        self.tail: list[str] = []          # last lines seen, for errors outside tests
        self._running: list[TestResult] = []
        self._names: list[str] = []
        self._failing: TestResult | None = None  # FAILED seen, message may go on

    def feed(self, line: str) -> None:
        line = ANSI.sub("", line.rstrip("\n"))
        self.tail = (self.tail + [line])[-self.keep_lines:]
        m = NAMES.match(line)
        if m:
            try:
                self._names = [str(n) for n in json.loads(m["json"])]
            except ValueError:
                self._names = []
            return
        m = WORKAROUND.match(line)
        if m:
            self.workarounds.append(m["text"])
            return
        m = START.match(line)
        if m:
            func, text = _split(m["desc"])
            self._running.append(TestResult(func, text, ERROR, self._names,
                                            attempt=self.attempt))
            self._names = []
            if self.on_start is not None:
                self.on_start(self._running[-1])
            self._failing = None
            return
        m = END.match(line)
        if m and self._running:
            func, _ = _split(m["desc"])
            test = self._pop(func)
            if test is not None:
                test.seconds = _seconds(m["time"])
                self._finish(test)
            self._failing = None
            return
        m = RESULT.match(line)
        if m and self._running:
            rest = m["rest"]
            test = self._running[-1]
            if m["what"] == "PASSED":
                test.status = PASSED
            else:
                test.status = FAILED
                prefix = f"[{test.func}] {test.description}"
                bare = FUNC_REPR.match(rest)
                if rest.startswith(prefix):
                    message = rest[len(prefix):].lstrip(":").strip()
                elif bare:
                    message = rest[bare.end():].lstrip(":").strip()
                else:
                    message = rest
                test.message = re.sub(r" -+$", "", message)
                self._failing = test
            return
        m = SKIP.match(line)
        if m:
            func, text = _split(m["desc"])
            test = TestResult(func, text, SKIPPED, _skip_names(m["names"]),
                              message=f"test(s) {m['names']} disabled", attempt=self.attempt)
            self._finish(test)
            return
        if self._failing is not None:
            # A multi-line failure message: QA prints the exception's text whole.
            self._failing.message += "\n" + re.sub(r" -+$", "", line)
            return
        for test in self._running:
            test.output.append(line)
            del test.output[:-self.keep_lines]

    def _pop(self, func: str) -> TestResult | None:
        for i in range(len(self._running) - 1, -1, -1):
            if self._running[i].func == func:
                return self._running.pop(i)
        return None

    def _finish(self, test: TestResult) -> None:
        self.results.append(test)
        if self.on_result is not None:
            self.on_result(test)

    def close(self, exit_code: int) -> TestResult | None:
        """QA ended with ``exit_code``.  A test still running is an error; a
        failure outside any test (QA's setup code, a crash) becomes a
        result of its own.  Returns the test that ended the run, if any."""
        for test in self._running:
            test.status = ERROR
            test.message = test.message or f"QA ended (status {exit_code}) while it ran"
            self._finish(test)
        self._running = []
        failed = [t for t in self.results if t.status in (FAILED, ERROR)]
        if exit_code != 0 and not failed:
            test = TestResult("ganeti-qa.py", "QA outside any test", ERROR,
                              message=_last_error(self.tail) or f"exit status {exit_code}",
                              output=list(self.tail), attempt=self.attempt)
            self._finish(test)
            return test
        return failed[-1] if failed else None


def _skip_names(text: str) -> list[str]:
    """QA prints the testnames argument of RunTestIf with %s: a name, or a list."""
    return re.findall(r"'([a-z][a-z0-9-]*)'", text) or \
        ([text.strip()] if re.fullmatch(r"[a-z][a-z0-9-]*", text.strip()) else [])


def _last_error(lines: list[str]) -> str:
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line):
            return line
    return next((line for line in reversed(lines) if line.strip()), "")


def parse(text: str, exit_code: int = 0) -> QaOutput:
    """All of a recorded QA output at once (for tests and re-reading logs)."""
    out = QaOutput()
    for line in text.splitlines():
        out.feed(line)
    out.close(exit_code)
    return out
