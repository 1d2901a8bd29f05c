"""The examples run as written (at toy size): they are the library's documentation."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs(script, tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / script), "--quick", "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "Traceback" not in result.stderr
    assert any(line.strip() for line in result.stdout.splitlines())
