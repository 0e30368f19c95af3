"""The README's service snippet runs as written on a fresh database (issue 10, point 10)."""

from __future__ import annotations

import asyncio
import re
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"


def _snippet() -> str:
    section = README.read_text().split("## Using it from a service", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return block.group(1)


def test_the_service_snippet_runs_on_a_fresh_database(
    gearbox_empty_database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    body = textwrap.indent(_snippet(), "    ")
    source = f"async def snippet(url):\n{body}\n    await adb.close()\n    db.close()\n"
    namespace: dict[str, object] = {}
    exec(compile(source, str(README), "exec"), namespace)  # noqa: S102 - our own README
    asyncio.run(namespace["snippet"](gearbox_empty_database_url))  # type: ignore[operator]
    assert capsys.readouterr().out.split() == ["True", "310.5"]
