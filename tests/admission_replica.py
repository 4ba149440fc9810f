"""One replica in an admission race, as a process of its own: `python -m tests.admission_replica SETTINGS`.

SETTINGS is JSON: the database URL, the scripted model's base URL and price, the user's limits, how many
threads start a comparison at the wall-clock moment `at` (all of them at once, as tabs clicking Run), and
the lease of this process's reservations. Each thread runs its comparison to the end if admitted. One
JSON line per thread is printed: admitted or refused, the refusal's text, the answer's finish reason and
cost. With "hold": true, one comparison is admitted, "admitted" is printed, and the process waits to be
killed while its model answers.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from decimal import Decimal
from typing import Any

from playground.compare import Comparison, plan_comparison
from playground.core import Params, User
from playground.core.policy import HostedPolicy, Limits
from playground.core.specs import ModelSpec
from playground.engine import Keyring
from playground.hosting import Gate, LimitExceededError
from playground.storage import Store

DAVE = User("https://id.example|dave", "Dave", "dave@example.com")
PROMPT = "hello"


def priced_spec(base_url: str, price_per_mtok: str) -> ModelSpec:
    """The admin's priced model on the scripted server (the server's own key)."""
    price = Decimal(price_per_mtok)
    return ModelSpec(
        key="paid",
        provider="openai",
        model="gpt-4",  # cl100k_base, bundled: the project counts its tokens exactly
        base_url=base_url,
        api_key_env="ADMIN_KEY",
        price_input_per_mtok=price,
        price_output_per_mtok=price,
        context_window=4096,
    )


def race_plan(spec: ModelSpec, max_tokens: int):  # noqa: ANN201 - a compare Plan
    """The comparison every tab runs: one priced model, `max_tokens`."""
    keys = Keyring(server={"ADMIN_KEY": "server-secret"}, hosted=True)
    return plan_comparison(
        PROMPT, [spec.key], {spec.key: spec}, params=Params(max_tokens=max_tokens), keys=keys
    )


def _attempt(plan: Any, store: Store, gate: Gate, out: list[dict[str, Any]]) -> None:
    try:
        comparison = Comparison(plan, store, user=DAVE, gate=gate)
    except LimitExceededError as exc:
        out.append({"admitted": False, "refusal": str(exc)})
        return
    list(comparison.events())
    result = comparison.results[0]
    out.append(
        {
            "admitted": True,
            "finish_reason": result.finish_reason,
            "cost_usd": str(result.cost_usd),
            "max_cost_usd": str(result.max_cost_usd),
            "text": result.text,
        }
    )


def main(settings: dict[str, Any]) -> None:
    store = Store(settings["db"])
    limits = Limits(concurrent_runs=settings["concurrent"], daily_usd=Decimal(settings["daily_usd"]))
    gate = Gate(HostedPolicy(enabled=True, limits=limits), lease_s=settings.get("lease_s"))
    plan = race_plan(priced_spec(settings["base_url"], settings["price"]), settings["max_tokens"])
    out: list[dict[str, Any]] = []
    if settings.get("hold"):
        held = Comparison(plan, store, user=DAVE, gate=gate)  # admitted: its reservation is in the store
        threading.Thread(target=lambda: list(held.events()), daemon=True).start()  # its model answers
        print("admitted", flush=True)
        threading.Event().wait()
    threads = [
        threading.Thread(target=_attempt, args=(plan, store, gate, out)) for _ in range(settings["threads"])
    ]
    time.sleep(max(0.0, settings["at"] - time.time()))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.writer.flush(10)
    for line in out:
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
