"""Every ```python block of README.md and docs/*.md, run as a script against the installed package in a
temporary folder (docs/writing.md: the Rust docs test runs the other blocks and counts these)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(\s*)(`{3,})python\s*$")


def python_blocks():
    """(page:line, code) of every python block, in page order."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    found = []
    for page in pages:
        lines = page.read_text().splitlines()
        i = 0
        while i < len(lines):
            m = FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            indent, fence, start = len(m.group(1)), m.group(2), i + 1
            body = []
            i += 1
            while not lines[i].strip().startswith(fence):
                line = lines[i]
                body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
                i += 1
            found.append((f"{page.relative_to(REPO)}:{start}", "\n".join(body) + "\n"))
            i += 1
    return found


BLOCKS = python_blocks()


def test_the_docs_have_python_blocks():
    assert len(BLOCKS) >= 4, f"only {len(BLOCKS)} python blocks in README.md and docs/: is the layout what this test reads?"


@pytest.mark.parametrize("where,code", BLOCKS, ids=[w for w, _ in BLOCKS])
def test_python_block_runs(where, code, tmp_path):
    script = tmp_path / "block.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{where}: the block exits {done.returncode}:\n{done.stderr[-3000:]}"
