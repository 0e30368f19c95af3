"""Hypothesis strategies and settings shared by the property tests."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Any Unicode text PostgreSQL can store: no NUL, no lone surrogate.
hostile = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
#: Hostile text that is not blank (names).
hostile_name = hostile.filter(str.strip)
#: Text with at least one NUL (always refused).
with_nul = st.tuples(hostile, hostile).map(lambda parts: "\x00".join(parts))
#: Settings of tests whose examples share a function-scoped fixture: each example
#: isolates itself (``gearbox_db.testing.isolated``), hence the suppressed check.
per_example = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
