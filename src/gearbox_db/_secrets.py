"""Secrets of the account repositories: generation, hashing, PKCE.

Every secret handed out (session token, API key, OAuth code, access and
refresh token) comes from :mod:`secrets` with 256 bits of entropy and is
stored only as the lowercase hex SHA-256 of its UTF-8 bytes. A fast hash is
right here, unlike for passwords: the input is random and unguessable, so
there is nothing to brute-force, and lookup by hash uses a unique index.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Final

from gearbox_db.errors import ValidationError

__all__ = [
    "API_KEY_PREFIX",
    "TOKEN_BYTES",
    "check_code_challenge",
    "check_code_verifier",
    "new_api_key",
    "new_token",
    "pkce_matches",
    "s256",
    "sha256_hex",
]

#: Entropy of every generated secret: 32 bytes = 256 bits.
TOKEN_BYTES: Final = 32
#: Start of every API key, so that people and secret scanners recognise one.
API_KEY_PREFIX: Final = "gb_"
# RFC 7636 section 4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
_VERIFIER: Final = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# An S256 challenge is the unpadded base64url encoding of 32 bytes: 43 characters.
_S256_CHALLENGE: Final = re.compile(r"[A-Za-z0-9\-_]{43}")


def new_token() -> str:
    """A fresh random token: 256 bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_api_key() -> str:
    """A fresh API key: ``gb_`` followed by 256 random bits in URL-safe base64."""
    return API_KEY_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def sha256_hex(raw: object, field: str = "token") -> str:
    """The lowercase hex SHA-256 of ``raw``'s UTF-8 bytes (what the database stores).

    Any string hashes (one that was never issued simply matches nothing);
    anything else is a ValidationError.
    """
    if not isinstance(raw, str):
        raise ValidationError(f"{field} must be a string, got {type(raw).__name__}")
    # surrogatepass: a lone surrogate cannot be a token we issued, but must not crash.
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def s256(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier: BASE64URL(SHA256(ASCII(verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_code_verifier(verifier: object) -> str:
    """``verifier`` if it has the form RFC 7636 requires, else ValidationError."""
    if not isinstance(verifier, str) or not _VERIFIER.fullmatch(verifier):
        raise ValidationError(
            "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_', '~'"
        )
    return verifier


def check_code_challenge(challenge: object) -> str:
    """``challenge`` if it can be an S256 challenge (43 base64url characters)."""
    if not isinstance(challenge, str) or not _S256_CHALLENGE.fullmatch(challenge):
        raise ValidationError("code_challenge must be an S256 challenge: 43 base64url characters")
    return challenge


def pkce_matches(verifier: str, challenge: str) -> bool:
    """Whether ``verifier``'s S256 challenge equals ``challenge`` (constant-time compare)."""
    return hmac.compare_digest(s256(verifier).encode("ascii"), challenge.encode("utf-8"))
