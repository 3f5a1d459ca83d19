"""A throwaway PostgreSQL cluster for the tests (and ``bench/store_pg.py``).

``Cluster.start()`` runs ``initdb`` in a fresh temporary folder, starts the server with
``pg_ctl`` on a free loopback port with its unix socket in that folder and trust
authentication, and ``stop()`` removes every trace. Nothing touches a system cluster.

initdb refuses to run as root, so when we are root (CI containers) the server runs as the
``postgres`` account that the distribution package creates (``nobody`` when it is missing),
through ``subprocess``'s ``user=``: no ``sudo``/``runuser`` needed. The test process itself
stays root and connects over TCP with trust auth.

Binaries are looked up in ``$JOBRUNNER_PG_BINDIR``, next to ``pg_ctl`` on ``PATH``, then in the
usual distribution folders (newest version first).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

SUPERUSER = "postgres"
_BINARIES = ("initdb", "pg_ctl", "postgres")
#: where distributions put server binaries (relative to /), newest version picked first
_SYSTEM_FOLDERS = (
    "usr/lib/postgresql/*/bin",
    "usr/pgsql-*/bin",
    "opt/homebrew/opt/postgresql*/bin",
)
_names = itertools.count(1)


def find_bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``; ``None`` when not installed."""
    candidates: list[Path] = []
    if env := os.environ.get("JOBRUNNER_PG_BINDIR"):
        candidates.append(Path(env))
    if on_path := shutil.which("pg_ctl"):
        candidates.append(Path(on_path).resolve().parent)

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", str(p)))

    for pattern in _SYSTEM_FOLDERS:
        candidates.extend(sorted(Path("/").glob(pattern), key=version, reverse=True))
    for folder in candidates:
        if all((folder / name).is_file() for name in _BINARIES):
            return folder
    return None


MISSING_REASON = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in $JOBRUNNER_PG_BINDIR, "
    "PATH or /usr/lib/postgresql/*/bin: install them (apt-get install postgresql; .ci/run does)"
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _server_account() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as, or ``None`` to run it as ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError("running as root and no 'postgres' or 'nobody' account for the server")


@dataclass
class Cluster:
    """A running throwaway server. Use :meth:`start`; always :meth:`stop`."""

    bindir: Path
    root: Path
    port: int
    account: pwd.struct_passwd | None
    databases: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @classmethod
    def start(cls, bindir: Path, *, durable: bool = False) -> Cluster:
        """initdb + pg_ctl start. ``durable=False`` (tests) turns fsync off: a crash of the
        machine loses a throwaway database, nothing else."""
        account = _server_account()
        root = Path(tempfile.mkdtemp(prefix="jobrunner-pg-"))
        cluster = cls(bindir, root, 0, account)
        try:
            if account is not None:
                os.chown(root, account.pw_uid, account.pw_gid)
            cluster._run(
                "initdb", "-D", str(cluster.data), "-U", SUPERUSER, "--auth=trust",
                "--encoding=UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
            settings = {
                "listen_addresses": "'127.0.0.1'",
                "unix_socket_directories": f"'{root}'",
                "max_connections": "200",
                "fsync": "on" if durable else "off",
                "synchronous_commit": "on" if durable else "off",
                "full_page_writes": "on" if durable else "off",
            }
            with (cluster.data / "postgresql.conf").open("a") as conf:
                conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
            cluster._start_on_a_free_port()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _start_on_a_free_port(self) -> None:
        for _ in range(3):  # another process may take the port between probing and binding
            self.port = free_port()
            result = self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                "-o", f"-p {self.port}", "start", check=False,
            )  # fmt: skip
            if result.returncode == 0:
                return
        raise RuntimeError(f"pg_ctl start failed: {result.stdout}{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def _run(self, binary: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        account = self.account
        result = subprocess.run(
            [str(self.bindir / binary), *args],
            cwd=self.root,  # the server account may not be allowed into our working folder
            user=None if account is None else account.pw_uid,
            group=None if account is None else account.pw_gid,
            extra_groups=None if account is None else [],
            env={**os.environ, "LC_ALL": "C"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{binary} failed ({result.returncode}): {result.stdout}")
        return result

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @contextlib.contextmanager
    def admin(self) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            yield conn

    def create_database(self, *, template: str | None = None, name: str | None = None) -> str:
        """Create an (empty, or copied from ``template``) database; returns its name."""
        name = name or f"t{os.getpid()}_{next(_names)}"
        sql = f'CREATE DATABASE "{name}"'
        if template is not None:
            sql += f' TEMPLATE "{template}"'
        with self.admin() as conn:
            conn.execute(sql.encode())
        self.databases.append(name)
        return name

    def drop_database(self, name: str) -> None:
        """Drop it, disconnecting whoever is still connected (a killed worker's sessions)."""
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        if name in self.databases:
            self.databases.remove(name)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
