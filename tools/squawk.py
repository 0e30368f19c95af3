"""Lint the offline SQL of every shipped revision with squawk (PyPI ``squawk-cli``).

    python tools/squawk.py            # exit 1 if squawk reports anything not justified

Each revision is rendered on its own (``gearbox-db upgrade --sql --from PREVIOUS REV``,
through :func:`gearbox_db.migrations.upgrade_sql`) and checked by squawk. A
revision may silence a rule only by naming it, with the reason, in its module's
``SQUAWK_EXCLUDES`` dict (rule -> why); this script prints those reasons.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from gearbox_db import migrations


def excludes(revision: str) -> dict[str, str]:
    """The squawk rules ``revision`` justifies breaking: rule -> reason."""
    config = Config()
    config.set_main_option("script_location", "gearbox_db:migrations")
    script = ScriptDirectory.from_config(config).get_revision(revision)
    assert script is not None
    found: dict[str, str] = getattr(script.module, "SQUAWK_EXCLUDES", {})
    return found


def lint(revision: migrations.Revision, squawk: str, directory: Path) -> bool:
    """Run squawk on the SQL of ``revision``; whether it passed."""
    path = directory / f"{revision.revision}.sql"
    path.write_text(migrations.upgrade_sql(revision.revision, revision.down_revision))
    justified = excludes(revision.revision)
    for rule, why in sorted(justified.items()):
        print(f"{revision.revision}: {rule} excluded: {why}")
    command = [squawk, "--reporter", "gcc", str(path)]
    if justified:
        command.append(f"--exclude={','.join(sorted(justified))}")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    print(done.stdout, end="")
    print(f"{revision.revision}: {'ok' if done.returncode == 0 else 'FAILED'}")
    return done.returncode == 0


def main() -> int:
    """Lint every revision, oldest first; 0 when all pass."""
    squawk = shutil.which("squawk") or str(Path(sys.executable).with_name("squawk"))
    if not Path(squawk).exists():
        print("squawk not found: pip install -e '.[dev]' (squawk-cli)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as directory:
        results = [lint(rev, squawk, Path(directory)) for rev in reversed(migrations.history())]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
