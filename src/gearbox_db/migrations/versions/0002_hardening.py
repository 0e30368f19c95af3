"""Hardening: tokens record their code and their family's absolute expiry; API keys expire.

- ``oauth_tokens.code_hash``: SHA-256 of the authorization code that issued the
  token's family (copied along rotations; NULL for tokens not issued by a code),
  so that a replayed code revokes the tokens of its first redemption.
- ``oauth_tokens.family_expires_at``: the absolute end of the token's refresh
  family; rotation never extends a refresh token past it. Existing tokens get
  90 days from the upgrade.
- ``api_keys.expires_at``: the absolute end of an API key. Existing keys get
  365 days from the upgrade.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gearbox_db.migrations import ops

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: squawk rules this revision's SQL breaks on purpose, and why (see tools/squawk.py).
SQUAWK_EXCLUDES: dict[str, str] = {
    "require-statement-timeout": "nothing slow runs in its transaction: the new columns' "
    "defaults are STABLE (no table rewrite) and the index is built CONCURRENTLY outside it; "
    "lock_timeout, set for every revision, bounds the waits for locks",
    "adding-field-with-default": "the defaults are now() + an interval: STABLE, not "
    "VOLATILE, so PostgreSQL >= 11 stores them once without rewriting the table (every "
    "existing row gets the same end, counted from the upgrade)",
    "constraint-missing-not-valid": "the CHECK is on a column added by the same "
    "transaction, NULL in every row, whose ADD COLUMN holds the table's lock already: "
    "NOT VALID then VALIDATE would only add a second statement",
}

FAMILY_DEFAULT = "(now() + '90 days'::interval)"
API_KEY_DEFAULT = "(now() + '365 days'::interval)"


def upgrade() -> None:
    op.add_column("oauth_tokens", sa.Column("code_hash", sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f("ck_oauth_tokens_code_hash_sha256_hex"),
        "oauth_tokens",
        "code_hash ~ '^[0-9a-f]{64}$'",
    )
    op.add_column(
        "oauth_tokens",
        sa.Column(
            "family_expires_at",
            sa.DateTime(timezone=True),
            server_default=sa.text(FAMILY_DEFAULT),
            nullable=False,
        ),
    )
    op.add_column(
        "api_keys",
        sa.Column(
            "expires_at",
            sa.DateTime(timezone=True),
            server_default=sa.text(API_KEY_DEFAULT),
            nullable=False,
        ),
    )
    ops.create_indexes([("ix_oauth_tokens_code_hash", "oauth_tokens", "code_hash")])


def downgrade() -> None:
    op.drop_column("api_keys", "expires_at")
    op.drop_column("oauth_tokens", "family_expires_at")
    ops.drop_indexes(["ix_oauth_tokens_code_hash"])
    op.drop_column("oauth_tokens", "code_hash")
