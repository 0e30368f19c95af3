"""Fail when the generated sync code is not what the async source gives.

``unasyncd --check`` only compares the source with unasyncd's own cache, so a
hand-edited or stale file under ``_sync`` passes it on a fresh clone. This
regenerates everything (``unasyncd --force``) and compares the files before
and after; on a difference it lists the files (now regenerated) and exits 1.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GENERATED = (Path("src/gearbox_db/_sync"), Path("tests/_sync"))


def _snapshot() -> dict[Path, bytes]:
    return {
        path: path.read_bytes()
        for directory in GENERATED
        for path in sorted(directory.rglob("*.py"))
    }


def main() -> int:
    """Regenerate and compare; 0 when nothing changed."""
    before = _snapshot()
    unasyncd = Path(sys.executable).with_name("unasyncd")  # beside the interpreter
    # Exit status 1 means "files changed" as well as "failed": tell them apart.
    result = subprocess.run([unasyncd, "--force"], capture_output=True, text=True, check=False)
    if "Traceback" in result.stderr or result.returncode not in (0, 1):
        print(result.stdout + result.stderr, file=sys.stderr)
        return 1
    after = _snapshot()
    changed = sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    for path in changed:
        state = "missing" if path not in before else "removed" if path not in after else "stale"
        print(f"generated file {state}: {path}", file=sys.stderr)
    if changed:
        print("run 'unasyncd' and commit the regenerated files", file=sys.stderr)
        return 1
    print(f"generated sync code is up to date ({len(after)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
