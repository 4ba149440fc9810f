"""A throwaway PostgreSQL cluster on a free loopback port, for the store's tests (Debian's postgresql package).

PostgreSQL refuses to run as root, so under root (CI) the cluster is made and run as the `postgres` user
that the package creates; its folder is handed to that user first."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)  # newest version first


def pgvector_bin_dir() -> Path | None:
    """The PostgreSQL that pgserver (a test dependency) ships with pgvector built in, or None.

    Debian bookworm has no pgvector package and this machine reaches no other apt source, so the vector
    tests run on pgserver's PostgreSQL 16; the store's other tests use Debian's."""
    try:
        import pgserver
    except ImportError:
        return None
    folder = Path(pgserver.__file__).parent / "pginstall" / "bin"
    return folder if (folder / "postgres").exists() else None


def postgres_bin(name: str, bin_dir: Path | None = None) -> str | None:
    """The path of a PostgreSQL server program (initdb, postgres, pg_isready), or None if not installed."""
    if bin_dir is not None:
        return str(bin_dir / name)
    for folder in BIN_DIRS:
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def available() -> bool:
    """True when a PostgreSQL server can be started here."""
    return all(postgres_bin(name) for name in ("initdb", "postgres", "pg_isready", "pg_ctl"))


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


class Cluster:
    """One throwaway cluster in a folder: initdb once, then start and stop it (to take the database away
    under a running app and bring it back)."""

    def __init__(self, folder: Path, port: int, bin_dir: Path | None = None) -> None:
        self.folder, self.port, self.bin_dir = folder, port, bin_dir
        self.data = folder / "pgdata"
        self.url = f"postgresql+psycopg://playground@127.0.0.1:{port}/postgres"
        self.process: subprocess.Popen[bytes] | None = None
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
            shutil.chown(self.data, "postgres")
        initdb = [
            postgres_bin("initdb", self.bin_dir),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "playground",
            "--no-sync",
        ]
        subprocess.run(_as_server_user(initdb), check=True, capture_output=True)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        server = [
            postgres_bin("postgres", self.bin_dir),
            "-D", str(self.data),
            "-p", str(self.port),
            "-k", str(self.folder),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off",
        ]  # fmt: skip
        log = (self.folder / "postgres.log").open("ab")
        self.process = subprocess.Popen(_as_server_user(server), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        _wait_ready(self.port, self.process, self.folder, self.bin_dir)

    def stop(self) -> None:
        """Stop the server at once (fast shutdown: every connection is dropped)."""
        if self.process is not None and self.process.poll() is None:
            # pg_ctl signals the server itself (runuser does not pass SIGINT on): "fast" drops clients.
            stop = [postgres_bin("pg_ctl", self.bin_dir), "stop", "-D", str(self.data), "-m", "fast", "-w"]
            subprocess.run(_as_server_user(stop), capture_output=True, timeout=60)
            self.process.wait(timeout=30)
        self.process = None


@contextmanager
def cluster(folder: Path, port: int, bin_dir: Path | None = None) -> Iterator[str]:
    """Start a fresh cluster in `folder` on 127.0.0.1:`port`; yields a SQLAlchemy URL of its database."""
    server = Cluster(folder, port, bin_dir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def _wait_ready(
    port: int, process: subprocess.Popen[bytes], folder: Path, bin_dir: Path | None = None
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"postgres exited: {(folder / 'postgres.log').read_text()[-2000:]}")
        ready = subprocess.run(
            [postgres_bin("pg_isready", bin_dir), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        )
        if ready.returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError("postgres did not accept connections within 30 s")


def fresh_database(url: str) -> str:
    """A new empty database on the cluster at `url` (each test gets its own)."""
    import sqlalchemy

    name = f"t_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return url.rsplit("/", 1)[0] + f"/{name}"
