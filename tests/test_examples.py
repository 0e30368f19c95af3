"""The example services in docs/examples run as documented (so the docs stay true)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("sync_service.py", "Overnighter: pack 358.5 g, 7 units"),
        ("async_service.py", "bought Titanium alcohol stove (22.5 g)"),
    ],
)
def test_example_service_runs(gearbox_empty_database_url: str, script: str, expected: str) -> None:
    for _ in range(2):  # and again on the same database: the examples are idempotent
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / script), gearbox_empty_database_url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout
