"""Every ```python block in docs/**/*.md and README.md runs, as-is, as a test.

A block is skipped only when the line right before its opening fence is
``<!-- skip-test -->`` (for code that needs a real Ollama, say). Each block runs
in a fresh namespace whose ``__name__`` is ``"__docs__"``, compiled so that
tracebacks point at the Markdown file and line. Async examples end with
``asyncio.run(main())``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SKIP_MARKER = "<!-- skip-test -->"
LANGUAGES = frozenset({"python", "py", "python3"})

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Example:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int  # 1-based line of the opening fence
    code: str = field(repr=False)
    skipped: bool = False

    @property
    def id(self) -> str:
        base = DOCS if self.path.is_relative_to(DOCS) else ROOT
        return f"{self.path.relative_to(base).as_posix()}:{self.line}"


def _language(info: str) -> str:
    words = info.strip().lstrip("{").lstrip(".").split()
    return words[0].lower() if words else ""


def python_blocks(path: Path) -> list[Example]:
    """The Python blocks of one Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        # A backtick fence's info string may not contain backticks (CommonMark).
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (
                closing is not None
                and closing["fence"][0] == fence[0]
                and len(closing["fence"]) >= len(fence)
                and not closing["info"].strip()
            ):
                break
            line = lines[j]
            # Blocks inside admonitions are indented: remove the fence's indent.
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            j += 1
        if _language(opening["info"]) in LANGUAGES:
            skipped = i > 0 and lines[i - 1].strip() == SKIP_MARKER
            found.append(Example(path, i + 1, "\n".join(body) + "\n", skipped))
        i = j + 1
    return found


def markdown_files() -> list[Path]:
    files = sorted(DOCS.rglob("*.md"))
    readme = ROOT / "README.md"
    if readme.is_file():
        files.append(readme)
    return files


EXAMPLES = [example for path in markdown_files() for example in python_blocks(path)]


def test_the_docs_have_examples() -> None:
    """A parser that finds nothing would make every doc example pass."""
    assert sum(not example.skipped for example in EXAMPLES) >= 10


def test_skip_markers_sit_right_before_a_python_block() -> None:
    """A stray marker most likely means an example is meant to be skipped but is not."""
    skipped = {(example.path, example.line - 1) for example in EXAMPLES if example.skipped}
    for path in markdown_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() == SKIP_MARKER:
                assert (path, number) in skipped, f"{path.name}:{number}: no python block follows"


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_doc_example_runs(example: Example) -> None:
    if example.skipped:
        pytest.skip(f"marked {SKIP_MARKER}")
    # Pad with blank lines so that line numbers in tracebacks are the Markdown file's.
    source = "\n" * example.line + example.code
    code = compile(source, str(example.path), "exec", dont_inherit=True)
    exec(code, {"__name__": "__docs__"})
