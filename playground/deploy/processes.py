"""The llama.cpp server processes of this machine: start one detached, see whether it lives, stop it.

A server is started in a session (process group) of its own, so it outlives the page run or CLI command
that started it, and stopping it ends everything it started. Its key goes in its environment (API_KEY,
read by the server's settings), never on its command line, where `ps` would show it to every user.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# Children this process started and has not reaped: polled so a dead one is not left a zombie (a zombie
# still answers os.kill(pid, 0)).
_children: dict[int, subprocess.Popen[bytes]] = {}
# Their exit statuses once reaped (negative: the signal that ended them), for the failure's message.
_ended: dict[int, int] = {}

# Environment variables llama_cpp.server reads besides its flags (its settings are pydantic-settings,
# case-insensitive; uvicorn.run takes HOST and PORT from the environment over the flags): a deployment
# sets its own, and none of the launcher's leak in.
_SERVER_ENV = {"HOST", "PORT", "CONFIG_FILE", "API_KEY", "MODEL", "MODEL_ALIAS", "LORA_PATH", "LORA_BASE"}


@dataclass(frozen=True)
class ServerCommand:
    """What a llama.cpp server is started with."""

    gguf: Path
    served_name: str
    host: str
    port: int
    n_ctx: int
    threads: tuple[int, int]  # (decode, prompt), as a local worker's when nothing else generates
    lora: Path | None = None

    def argv(self) -> list[str]:
        command = [sys.executable, "-P", "-m", "llama_cpp.server", "--model", str(self.gguf)]
        command += ["--model_alias", self.served_name, "--host", self.host, "--port", str(self.port)]
        command += ["--n_ctx", str(self.n_ctx), "--n_threads", str(self.threads[0])]
        command += ["--n_threads_batch", str(self.threads[1])]
        if self.lora is not None:
            command += ["--lora_path", str(self.lora)]
        return command


def port_free(host: str, port: int) -> bool:
    """Whether `port` can be bound on `host` now, bound as uvicorn binds it (SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def launch(command: ServerCommand, key: str, log_path: Path) -> int:
    """Start the server detached, its output appended to `log_path`; its pid (= its process group)."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in _SERVER_ENV}
    env["API_KEY"] = key
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            command.argv(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=log_path.parent,
            start_new_session=True,
        )
    _children[child.pid] = child
    return child.pid


def is_server(pid: int, port: int) -> bool:
    """Whether `pid` is alive on this machine and is the llama.cpp server listening on `port` (not a
    later process that was given the same pid)."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _ended[pid] = child.returncode
        _children.pop(pid, None)
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return False
    if state in ("Z", "X"):
        return False
    return b"llama_cpp.server" in argv and str(port).encode() in argv


def ended_how(pid: int) -> str:
    """How a server this process started ended ("exit code 1", "killed by signal 9"), else ""."""
    child = _ended.get(pid)
    if child is None:
        return ""
    return f"killed by signal {-child}" if child < 0 else f"exit code {child}"


def stop(pid: int, port: int, grace_s: float = 10.0) -> None:
    """End the server's whole process group: SIGTERM, then SIGKILL after `grace_s`; returns once no
    process of the group is left."""
    if not is_server(pid, port):
        return
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not is_server(pid, port) and not _group_alive(pid):
            return
        time.sleep(0.1)
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + grace_s  # SIGKILL cannot be refused; the bound is for a stuck kernel
    while (is_server(pid, port) or _group_alive(pid)) and time.monotonic() < deadline:
        time.sleep(0.05)


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    """Whether a live process of the group is left. Zombies do not count: one whose parent is another
    process (the app that started it, while this is the CLI) waits for that parent to reap it."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def log_tail(log_path: Path, lines: int = 20) -> str:
    """The last lines of a server's log ('' when there is none)."""
    try:
        with log_path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16384))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
