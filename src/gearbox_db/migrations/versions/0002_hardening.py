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

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FAMILY_DEFAULT = "(now() + '90 days'::interval)"
API_KEY_DEFAULT = "(now() + '365 days'::interval)"


def upgrade() -> None:
    op.add_column("oauth_tokens", sa.Column("code_hash", sa.Text(), nullable=True))
    op.create_check_constraint(
        op.f("ck_oauth_tokens_code_hash_sha256_hex"),
        "oauth_tokens",
        "code_hash ~ '^[0-9a-f]{64}$'",
    )
    op.create_index(op.f("ix_oauth_tokens_code_hash"), "oauth_tokens", ["code_hash"], unique=False)
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


def downgrade() -> None:
    op.drop_column("api_keys", "expires_at")
    op.drop_column("oauth_tokens", "family_expires_at")
    op.drop_index(op.f("ix_oauth_tokens_code_hash"), table_name="oauth_tokens")
    op.drop_column("oauth_tokens", "code_hash")
