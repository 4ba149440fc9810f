"""Prompt templates run in worker processes: a hostile template is refused within about a second and
costs this process nothing; ordinary ones give the same prompts as before. Real processes, no mocks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from playground.evals import template_pool
from playground.evals.template_worker import fill
from playground.evals.templating import PromptTemplate, TemplateError
from tests.processes import ROOT

HOSTILE = [
    '{{ "x" | center(300000000) }}',
    "{{ '%300000000d' % 1 }}",
    '{{ "{:300000000}".format(1) }}',
    '{{ "%300000000s" | format(1) }}',
    '{{ "x\n" * 1000 | indent(300000000) }}',
    '{{ ("x\n" * 1000) | indent(300000000) }}',
    "{{ lipsum(n=100000, min=99999, max=100000) }}",
    '{{ ("a " * 90000) | wordwrap(1, wrapstring=" " * 100000) }}',
    '{{ ("ab" * 100000) | replace("a", "x" * 100000) }}',
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ (7 ** 10000000) % 10 }}",
    "{{ 'x' * 10**8 }}",
    "{{ " + "(" * 500 + "1" + ")" * 500 + " }}",
]
# What each refusal says: the time, the memory, or the bound that stopped it.
REFUSED = r"over 1 s .* stopped|over \d+ MB of memory|too large|too long|over .* characters|too deeply"


def peak_rss_mb() -> float:
    """This process's peak resident memory since the last reset_peak_rss (VmHWM)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM starts again from the current RSS


@pytest.mark.parametrize("source", HOSTILE)
def test_a_hostile_template_is_refused_by_check_within_a_second_and_a_half(source: str):
    reset_peak_rss()
    before_mb = peak_rss_mb()
    started = time.monotonic()
    with pytest.raises(TemplateError, match=REFUSED):
        PromptTemplate(source).check(["text"], [{"text": "hi"}])
    assert time.monotonic() - started < 1.5
    assert peak_rss_mb() - before_mb < 20  # the gigabytes were the worker's to refuse


def test_the_refusal_says_what_stopped_the_template():
    with pytest.raises(TemplateError) as slow:
        PromptTemplate(HOSTILE[9]).check(["text"], [{"text": "hi"}])
    assert str(slow.value) == (
        "row 1: template could not be filled: the template took over 1 s to fill this row and was stopped"
    )
    with pytest.raises(TemplateError) as big:
        PromptTemplate(HOSTILE[0]).render({})
    assert (
        str(big.value)
        == "template could not be filled: the template needed over 256 MB of memory and was stopped"
    )


ORDINARY = [
    ("Q: {question}\nA:", {"question": "2+2?"}),
    ("{ question }/{{question}}/{{ question | upper }}", {"question": "ünïcødé 東京 🙂"}),
    ('Reply as {"label": ...} for: {text}\n', {"text": "trailing newline kept"}),
    ("{% for w in text.split() %}[{{ loop.index }}:{{ w }}]{% endfor %}", {"text": "a b c"}),
    ("{% if flag == 'yes' %}on{% else %}off{% endif %} {{ 2 ** 10 }} {{ 'ab' * 3 }}", {"flag": "yes"}),
    ("{text}", {"text": "lone surrogate \ud800 and \x00 survive"}),
    ("{{ text | wordwrap(5) }} {{ text | center(21) }}", {"text": "wrap these words"}),
]


@pytest.mark.parametrize(("source", "row"), ORDINARY)
def test_an_ordinary_template_gives_the_same_prompt_as_in_process(source: str, row: dict[str, str]):
    template = PromptTemplate(source)
    template.check(list(row), [row])
    assert template.render(row) == fill(template.jinja_source, row)


def test_the_simple_form_unicode_and_a_trailing_newline():
    template = PromptTemplate("Q: {question}\nÉtiquette: {{ label | lower }}\n")
    assert template.variables == {"question", "label"}
    assert (
        template.render({"question": "¿Qué?", "label": "ÜBER", "unused": "x"})
        == "Q: ¿Qué?\nÉtiquette: über\n"
    )


def test_syntax_errors_and_sandbox_violations_keep_their_messages():
    with pytest.raises(TemplateError, match=r"^template line 2: unexpected '}'"):
        PromptTemplate("ok\n{{ text }").variables  # noqa: B018 - the property raises
    with pytest.raises(TemplateError, match="unsafe"):
        PromptTemplate("{{ text.__class__.__mro__ }}").render({"text": "x"})


def test_eight_threads_rendering_at_once_each_get_their_own_row():
    template = PromptTemplate("row {n}: {{ text | upper }}")
    rows = [{"n": str(i), "text": f"text {i} ü"} for i in range(400)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(template.render, rows))
    assert results == [f"row {i}: TEXT {i} Ü" for i in range(400)]
    assert len(template_pool.worker_pids()) <= template_pool.POOL_SIZE


def test_a_hostile_row_fails_only_its_own_render():
    template = PromptTemplate(
        "{{ text | center(width | int) }}|{% for i in range(n | int) %}{% for j in range(n | int) %}{% endfor %}{% endfor %}"
    )
    rows = [{"text": f"r{i}", "width": "5", "n": "1"} for i in range(10)]
    rows[4] = {"text": "r4", "width": "300000000", "n": "1"}  # memory
    rows[6] = {"text": "r6", "width": "5", "n": "100000"}  # time
    template.check(["text", "width", "n"], rows)
    outcomes = []
    for row in rows:
        try:
            outcomes.append(template.render(row))
        except TemplateError as exc:
            outcomes.append(str(exc))
    assert outcomes[4].endswith("needed over 256 MB of memory and was stopped")
    assert outcomes[6].endswith("took over 1 s to fill this row and was stopped")
    assert [o for i, o in enumerate(outcomes) if i not in (4, 6)] == [
        f"r{i}".center(5) + "|" for i in (0, 1, 2, 3, 5, 7, 8, 9)
    ]


def test_other_renders_go_on_while_a_hostile_one_holds_a_worker():
    template = PromptTemplate("{text}")
    template.render({"text": "warm"})
    hostile = threading.Thread(target=_refused, args=(HOSTILE[9],))
    hostile.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert [template.render({"text": str(i)}) for i in range(100)] == [str(i) for i in range(100)]
    assert time.monotonic() - started < 0.8  # served by the other worker, not after the hostile second
    hostile.join()


def _refused(source: str) -> None:
    with pytest.raises(TemplateError, match=REFUSED):
        PromptTemplate(source).render({})


@pytest.mark.parametrize("when", ["idle", "rendering"])
def test_a_worker_killed_from_outside_is_replaced(when: str):
    template = PromptTemplate("{text}")
    assert template.render({"text": "before"}) == "before"
    if when == "idle":
        for pid in template_pool.worker_pids():
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    else:
        hostile = threading.Thread(target=_killed_while_rendering)
        hostile.start()
        time.sleep(0.3)
        for pid in template_pool.worker_pids():
            os.kill(pid, signal.SIGKILL)
        hostile.join()
    assert template.render({"text": "after"}) == "after"


def _killed_while_rendering() -> None:
    with pytest.raises(TemplateError, match=r"worker ended with SIGKILL \(signal 9\)"):
        PromptTemplate(HOSTILE[9]).render({})


def test_the_worker_does_not_see_the_servers_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-of-the-server")
    template_pool.shutdown()  # the next worker starts with the key in this process's environment
    assert PromptTemplate("{text}").render({"text": "x"}) == "x"
    pids = template_pool.worker_pids()
    assert pids
    for pid in pids:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"sk-secret" not in environ
        assert sorted(environ.rstrip(b"\0").split(b"\0")) == [
            b"PYTHONDONTWRITEBYTECODE=1",
            b"PYTHONPATH=" + str(ROOT).encode(),
        ]
    with pytest.raises(TemplateError, match="unsafe|undefined"):
        PromptTemplate("{{ lipsum.__globals__['os'].environ }}").render({})


def test_the_worker_imports_no_sdk_database_or_ui_library():
    code = "import sys, playground.evals.template_worker; print(' '.join(sys.modules))"
    env = {"PYTHONPATH": str(ROOT)}
    modules = subprocess.run(
        [sys.executable, "-P", "-s", "-c", code], env=env, capture_output=True, check=True
    )
    loaded = set(modules.stdout.decode().split())
    assert "jinja2" in loaded
    heavy = ("llama_cpp", "openai", "streamlit", "plotly", "sqlalchemy", "providers", "pandas")
    assert [m for m in loaded if m.split(".")[0] in heavy] == []


EXITING = """
import threading, time
from playground.evals import template_pool
from playground.evals.templating import PromptTemplate, TemplateError
def hostile():
    try:
        PromptTemplate("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}").render({})
    except TemplateError:
        pass
threading.Thread(target=hostile, daemon=True).start()
time.sleep(0.3)
PromptTemplate("{text}").render({"text": "x"})  # on the second worker
print(" ".join(map(str, template_pool.worker_pids())), flush=True)
"""


def test_no_worker_outlives_the_process_that_started_it():
    # One worker idle, one busy on a hostile template when the interpreter exits.
    done = subprocess.run(
        [sys.executable, "-c", EXITING], cwd=ROOT, capture_output=True, check=True, timeout=30
    )
    pids = [int(pid) for pid in done.stdout.split()]
    assert len(pids) == 2
    # Without the exit hook the busy one would run on until its CPU limit (3 s).
    deadline = time.monotonic() + 1.0
    while any(map(_is_template_worker, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if _is_template_worker(pid)] == []


def _is_template_worker(pid: int) -> bool:
    try:
        return b"template_worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
