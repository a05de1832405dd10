"""The package under test is the installed one, it does not import torch, and its version is the
workspace's."""

import re
import subprocess
import sys
from pathlib import Path

import twoway

REPO = Path(__file__).resolve().parents[2]


def test_the_installed_package_is_under_test():
    where = Path(twoway.__file__).resolve()
    assert "site-packages" in where.parts, f"twoway imported from {where}, not from an installed wheel"
    assert REPO / "python" not in where.parents


def test_version_is_the_workspace_version():
    text = (REPO / "Cargo.toml").read_text()
    block = text[text.index("[workspace.package]"):]
    version = re.search(r'^version = "([^"]+)"', block, re.M).group(1)
    assert twoway.__version__ == version


def test_import_twoway_does_not_import_torch():
    code = "import sys, twoway, twoway.metrics, twoway.testing, twoway.spec; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_every_public_name_has_a_docstring():
    import twoway.reference
    import twoway.spec
    import twoway.testing

    modules = [twoway, twoway.metrics, twoway.reference, twoway.testing, twoway.spec]
    missing = []
    for m in modules:
        assert m.__doc__, m.__name__
        for name in getattr(m, "__all__", []):
            obj = getattr(m, name)
            if callable(obj) and not (obj.__doc__ or "").strip():
                missing.append(f"{m.__name__}.{name}")
    assert not missing, missing


def test_type_stubs_ship_with_the_package():
    root = Path(twoway.__file__).parent
    assert (root / "py.typed").is_file()
    assert (root / "_native.pyi").is_file()
