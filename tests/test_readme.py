"""The README's examples run as written."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), re.S)


def test_readme_starts_with_the_two_setup_commands():
    first = _blocks("bash")[0].strip().splitlines()
    assert len(first) == 2
    assert first[0].endswith("python -m coresets.demo")
    ci = (README.parent / ".ci" / "run").read_text()
    assert first[1] in ci, ".ci/run must call the README's test command"


@pytest.mark.slow
def test_readme_python_examples_run(tmp_path, monkeypatch):
    # each block on its own: a reader copies one block, not the page
    monkeypatch.chdir(tmp_path)
    tour = [b for b in _blocks("python") if "# apricot" not in b]
    assert len(tour) >= 3
    spaces = []
    for block in tour:
        spaces.append({})
        exec(compile(block, str(README), "exec"), spaces[-1])  # noqa: S102 - our own README
    (torch_block,) = [ns for ns in spaces if "wb" in ns]
    # coreset weights count rows (they sum to n); what reaches the loss averages 1
    assert torch_block["sel"].weights_.sum() == pytest.approx(len(torch_block["X"]))
    assert torch_block["subset"].weights.mean() == pytest.approx(1.0)
    assert torch_block["wb"].shape == torch_block["yb"].shape


@pytest.mark.slow
def test_readme_shell_examples_run(tmp_path):
    script = _blocks("bash")[1]
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "sel" / "indices.npy").exists()
    assert (tmp_path / "sel2" / "indices.npy").exists()
    assert (tmp_path / "runs" / "digits_csv" / "scaling.png").exists()
