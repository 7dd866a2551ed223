"""Every Python block of the README runs on its own, in a fresh interpreter (what a reader pasting it does)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = (Path(__file__).parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
JSON_BLOCKS = re.findall(r"```json\n(.*?)```", README, re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs_alone(code, tmp_path):
    if "import diffusers" in code and importlib.util.find_spec("diffusers") is None:
        pytest.skip("the block runs diffusers' code: the diffusers extra is not installed")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_readme_mixture_file_example_loads(tmp_path):
    from sandbox import ClassConditionalGMM
    assert JSON_BLOCKS, "the README shows a mixture file"
    path = tmp_path / "mine.json"
    path.write_text(JSON_BLOCKS[0])
    gmm = ClassConditionalGMM.load(path)
    assert gmm.name == "mine" and gmm.num_classes == 2 and gmm.dim == 2


def _first_column(heading: str) -> list[str]:
    """The backquoted names in the first column of the table under ``## heading``."""
    part = README.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", part, re.M)


def test_the_method_and_claim_lists_are_the_registries():
    from sandbox import claims, methods
    assert _first_column("The method vocabulary") == list(methods.names())
    assert _first_column("Claims checked") == list(claims.names())


def test_one_version_string_everywhere():
    import sandbox
    root = Path(__file__).parent.parent
    version = re.search(r'^version = "([^"]+)"$', (root / "pyproject.toml").read_text(), re.M).group(1)
    assert sandbox.__version__ == version                         # the installed metadata (make test reinstalls)
    assert re.search(r"^version: (\S+)$", (root / "CITATION.cff").read_text(), re.M).group(1) == version
    assert re.findall(r"version = \{([^}]+)\}", README) == [version]
