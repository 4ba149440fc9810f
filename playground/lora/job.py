"""A local tuning job as its caller sees it: started in a spawned process, followed, stopped."""

from __future__ import annotations

import multiprocessing
import queue
import shutil
from collections.abc import Iterator
from pathlib import Path

from playground.lora.dataset import TrainingExample, read_training_set
from playground.lora.errors import TunedModelNameError, TuneSettingsError
from playground.lora.settings import TuneSettings
from playground.lora.signals import TuneEnded, TuneProgress
from playground.lora.tuned import MANIFEST_FILE, TunedModel, check_name, list_tuned_models, tuned_models_dir

# A spawned interpreter, not a fork: torch's threads and the caller's threads (Streamlit's, the writer's)
# must not be copied half-way into the child.
_CONTEXT = multiprocessing.get_context("spawn")
_POLL_S = 0.5


class LocalTuneJob:
    """One running job: read its progress with events(), end it early with stop()."""

    def __init__(self, settings: TuneSettings) -> None:
        from playground.lora import trainer

        self.settings = settings
        self.log_path = settings.folder / trainer.LOG_FILE
        self._channel = _CONTEXT.Queue()
        self._stop = _CONTEXT.Event()
        self._process = _CONTEXT.Process(
            target=trainer.run,
            args=(settings, self._channel, self._stop),
            name=f"tune-{settings.name}",
            daemon=True,
        )
        self._process.start()
        self.ended: TuneEnded | None = None
        self.last: TuneProgress | None = None

    @property
    def pid(self) -> int | None:
        """The worker process's id."""
        return self._process.pid

    def stop(self) -> None:
        """Ask the worker to end at the next step boundary (it keeps its log and reports `stopped`)."""
        self._stop.set()

    def events(self) -> Iterator[TuneProgress | TuneEnded]:
        """Progress messages as they come, then exactly one TuneEnded (also when the worker died)."""
        while self.ended is None:
            message = self._take(_POLL_S)
            if message is not None:
                yield message
        self._process.join(timeout=30)

    def poll(self) -> TuneProgress | TuneEnded | None:
        """What the job has said so far, without waiting (a page redrawn every second): its end once it
        ended, else its latest step (None: none yet)."""
        while self.ended is None and self._take(0) is not None:
            pass
        return self.ended or self.last

    def _take(self, timeout: float) -> TuneProgress | TuneEnded | None:
        """The next message (None: none within `timeout`); a worker found dead ends the job as failed."""
        try:
            message = self._channel.get(timeout=timeout) if timeout else self._channel.get_nowait()
        except queue.Empty:
            if self.ended is None and not self._process.is_alive():
                code = self._process.exitcode
                step = self.last.step if self.last else 0
                self.ended = TuneEnded("failed", step, f"the training worker died (exit code {code})")
                return self.ended
            return None
        if isinstance(message, TuneEnded):
            self.ended = message
        else:
            self.last = message
        return message

    def wait(self) -> TuneEnded:
        """Follow the job to its end and say how it ended."""
        for _ in self.events():
            pass
        assert self.ended is not None
        return self.ended

    def result(self) -> TunedModel | None:
        """The tuned model once the job finished (None: stopped, failed or still running)."""
        if self.ended is None or self.ended.state != "finished":
            return None
        return next(
            (m for m in list_tuned_models(self.settings.folder.parent) if m.name == self.settings.name), None
        )


TRAINING_PACKAGES = ("torch", "transformers", "peft", "gguf")


def check_installed() -> None:
    """TuneSettingsError naming what to install when the `lora` extra is missing (the app's plain install
    leaves it out: about 1 GB)."""
    import importlib.util

    if missing := [name for name in TRAINING_PACKAGES if importlib.util.find_spec(name) is None]:
        raise TuneSettingsError(
            f"local fine-tuning needs {', '.join(missing)}: install the lora extra "
            "(.venv/bin/pip install -e '.[lora]', about 1 GB with CPU PyTorch)"
        )


def start_local_tune(
    training: Path | list[TrainingExample],
    name: str,
    base: str = "smollm2-135m",
    *,
    steps: int = 60,
    rank: int = 8,
    root: Path | None = None,
    threads: int | None = None,
    max_tokens: int = 96,
) -> LocalTuneJob:
    """Check everything that can be checked before any work (installed, name, base, data, knobs), then
    start."""
    check_installed()
    check_name(name)
    folder = (root or tuned_models_dir()) / name
    if (folder / MANIFEST_FILE).exists():
        raise TunedModelNameError(f"a tuned model named {name!r} already exists")
    examples = read_training_set(training) if isinstance(training, Path) else list(training)
    settings = TuneSettings(
        base=base,
        name=name,
        examples=tuple(examples),
        folder=folder,
        steps=steps,
        rank=rank,
        threads=threads,
        max_tokens=max_tokens,
    )
    if folder.exists():
        shutil.rmtree(folder)  # an earlier stopped or failed attempt under this name: start clean
    folder.mkdir(parents=True)
    return LocalTuneJob(settings)
