"""The maintainer's workflow: tools/new_revision.py autogenerates the next revision."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from gearbox_db import migrations

ROOT = Path(__file__).resolve().parents[1]


def tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_new_revision_follows_head_and_is_empty_when_the_schema_matches(
    gearbox_empty_database_url: str, tmp_path: Path
) -> None:
    new_revision = tool("new_revision")
    head = migrations.head()
    # Written beside the package's revisions, not among them: suites running at once on
    # the same checkout (CI runs two) must never see a revision come and go.
    path = new_revision.generate(gearbox_empty_database_url, "nothing to change", tmp_path)
    assert not list(new_revision.VERSIONS.glob("*_nothing_to_change.py"))
    try:
        text = path.read_text()
        assert path.name == f"{int(head) + 1:04d}_nothing_to_change.py"
        assert f"down_revision: str | None = {head!r}" in text
        assert "SQUAWK_EXCLUDES: dict[str, str] = {}" in text
        # schema.py and the migrations agree: autogenerate finds nothing to do
        body = text.split("def upgrade() -> None:")[1].split("def downgrade")[0]
        code = [line.strip() for line in body.splitlines()[1:] if line.strip()]
        assert [line for line in code if not line.startswith("#")] == ["pass"]
    finally:
        path.unlink()


def test_squawk_passes_every_revision_and_fails_an_unsafe_index() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "squawk.py")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{migrations.head()}: ok" in done.stdout
    squawk = Path(sys.executable).with_name("squawk")
    unsafe = subprocess.run(
        [str(squawk), "--stdin-filepath", "unsafe.sql"],
        input="CREATE INDEX ix_items_colour ON items (colour);",
        capture_output=True,
        text=True,
    )
    assert unsafe.returncode != 0
    assert "require-concurrent-index-creation" in unsafe.stdout
