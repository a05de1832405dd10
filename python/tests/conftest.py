"""The package's tests run against the installed wheel (`make test` builds it and installs it into the
project's venv), never the source tree: `python/` is not on sys.path (pytest runs with
--import-mode=importlib), and `test_install.py` checks where `twoway` was imported from."""

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def twoway_bin() -> str:
    """The `twoway` command (from $TWOWAY_BIN, else the workspace's debug or release build); the tests
    that compare with it fail when it is missing, they do not skip."""
    given = os.environ.get("TWOWAY_BIN")
    candidates = [given] if given else [REPO / "target/debug/twoway", REPO / "target/release/twoway"]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return str(c)
    found = shutil.which("twoway")
    if found and not given:
        return found
    pytest.fail(f"no `twoway` command at {', '.join(map(str, candidates))}: build it (cargo build) or set TWOWAY_BIN")
