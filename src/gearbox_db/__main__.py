"""``python -m gearbox_db``: the command line of :mod:`gearbox_db.cli`."""

from __future__ import annotations

import sys

from gearbox_db.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
