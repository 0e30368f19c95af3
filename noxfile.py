"""Task runner: ``nox -s tests lint typecheck`` (``nox -l`` lists every session)."""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["lint", "typecheck", "imports", "generate-check", "tests"]
nox.options.reuse_existing_virtualenvs = True

SYSTEM_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite on a throwaway embedded PostgreSQL 18 (extra pytest args pass through)."""
    session.install("-e", ".[dev]")
    session.run("pytest", *session.posargs)


@nox.session(name="tests-system-pg")
def tests_system_pg(session: nox.Session) -> None:
    """The test suite against an existing server (default: the local PostgreSQL 15)."""
    session.install("-e", ".[dev]")
    url = os.environ.get("GEARBOX_DB_TEST_URL", SYSTEM_PG)
    session.run("pytest", f"--gearbox-db-url={url}", *session.posargs)


@nox.session(name="tests-pg16")
def tests_pg16(session: nox.Session) -> None:
    """The test suite on a throwaway PostgreSQL 16: binaries of the pgserver wheel (test-only)."""
    session.install("-e", ".[dev]")
    target = f"{session.create_tmp()}/pg16"
    session.install(
        "--target",
        target,
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.11",
        "pgserver==0.1.4",
    )
    env = {"GEARBOX_DB_EMBEDDED_BINDIR": f"{target}/pgserver/pginstall/bin"}
    session.run("pytest", *session.posargs, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def imports(session: nox.Session) -> None:
    """import-linter: the layering contracts in pyproject.toml (its own venv: rich pins clash)."""
    session.install("import-linter>=2.1")
    session.run("lint-imports", env={"PYTHONPATH": "src"})


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and the benchmarks."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict")


@nox.session(name="generate-check")
def generate_check(session: nox.Session) -> None:
    """Fail if the generated sync code differs from what the async source gives."""
    session.install("-e", ".[dev]")
    session.run("python", "tools/check_generated.py")


@nox.session
def generate(session: nox.Session) -> None:
    """Regenerate the sync API and tests from the async source (``-- --check``: fail if stale)."""
    session.install("-e", ".[dev]")
    session.run("unasyncd", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Speed and memory figures (printed, never asserted).

    ``nox -s bench`` runs every script with its defaults; ``nox -s bench --
    items_list.py --runs 50`` runs one script with arguments.
    """
    session.install("-e", ".[dev]")
    if session.posargs:
        script, *args = session.posargs
        session.run("python", f"benchmarks/{script}", *args)
        return
    for script in sorted(os.listdir("benchmarks")):
        if script.endswith(".py") and not script.startswith("_"):
            session.run("python", f"benchmarks/{script}")


@nox.session
def revision(session: nox.Session) -> None:
    """Generate the next migration from schema.py: ``nox -s revision -- "message"``.

    Needs a PostgreSQL server for a scratch database: ``$GEARBOX_DB_TEST_URL``,
    else the local one (docs/maintaining.md).
    """
    session.install("-e", ".[dev]")
    session.run("python", "tools/new_revision.py", *session.posargs)


@nox.session
def squawk(session: nox.Session) -> None:
    """Lint the offline SQL of every revision with squawk (justified exclusions only)."""
    session.install("-e", ".[dev]")
    session.run("python", "tools/squawk.py")
