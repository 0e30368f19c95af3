"""The files a host service adds to a stock ``alembic init`` project.

The service keeps its own table ``favorites`` (referencing our ``items``) in
the same database, its own history in ``alembic_version``, and runs
gearbox_db's migrations from its ``env.py`` as docs/service.md shows.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Literal

__all__ = ["HOST_MODELS", "HOST_REVISION", "alembic", "make_host_project"]

Placement = Literal["before_configure", "in_transaction"]

HOST_MODELS = """
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table

from gearbox_db.schema import items

metadata = MetaData()
favorites = Table(
    "favorites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey(items.c.id, name="fk_favorites_item_id"), nullable=False),
)
"""

HOST_REVISION = '''"""favorites

Revision ID: host0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "host0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "favorites",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "item_id",
            sa.Integer(),
            sa.ForeignKey("items.id", name="fk_favorites_item_id"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_table("favorites")
'''

_STOCK_CONFIGURE = """        context.configure(
            connection=connection, target_metadata=target_metadata
        )

        with context.begin_transaction():
            context.run_migrations()
"""
_CONFIGURE = """        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=migrations.include_object,
        )
"""
_RUN = """        with context.begin_transaction():
            {inside}context.run_migrations()
"""


def alembic(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``alembic`` command line in ``project``."""
    return subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _env_py(stock: str, placement: Placement) -> str:
    assert _STOCK_CONFIGURE in stock, "alembic init wrote an env.py this test does not know"
    if placement == "before_configure":
        body = "        migrations.upgrade(connection)\n" + _CONFIGURE + _RUN.format(inside="")
    else:
        body = _CONFIGURE + _RUN.format(inside="migrations.upgrade(connection)\n            ")
    stock = stock.replace(_STOCK_CONFIGURE, body)
    stock = stock.replace("target_metadata = None", "target_metadata = host_models.metadata")
    return "from gearbox_db import migrations\nimport host_models\n" + stock


def make_host_project(root: Path, sqlalchemy_url: str, placement: Placement) -> Path:
    """``alembic init`` in ``root``, then the service's models, revision and env.py."""
    result = alembic(root, "init", "migrations")
    assert result.returncode == 0, result.stderr
    ini = root / "alembic.ini"
    ini.write_text(
        ini.read_text().replace(
            "sqlalchemy.url = driver://user:pass@localhost/dbname",
            "sqlalchemy.url = " + sqlalchemy_url.replace("%", "%%"),
        )
    )
    env = root / "migrations" / "env.py"
    env.write_text(_env_py(env.read_text(), placement))
    (root / "host_models.py").write_text(HOST_MODELS)
    (root / "migrations" / "versions" / "host0001_favorites.py").write_text(HOST_REVISION)
    return root
