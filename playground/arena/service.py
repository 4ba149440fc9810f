"""Arenas from start to end, for the pages and the CLI: create, join, battle blind, vote, rate, close, export.

Who may do what: anyone with an arena's join link joins it and battles; a participant votes only on their
own battles; only the arena's owner (its signed-in creator; in a local app, the browser session holding
the owner key it was created with: see owners.py) closes, reopens, resets or exports it. Battles use the
server's models and keys only (never a visitor's own), since one participant's session key must not pay
for another's battles.

Blind means blind: until a participant votes, nothing they see tells the two models apart beyond their
answers (see battle.py), and the leaderboard's latency and cost per answer, which would, show only to the
owner or once the arena is closed.
"""

from __future__ import annotations

import random
import statistics
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from playground.arena.battle import BattleTurn, SideCall, battle_ask, side_calls
from playground.arena.export import votes_to_csv, votes_to_jsonl
from playground.arena.links import checked_address, is_arena_id
from playground.arena.owners import device_digest, local_owner
from playground.arena.pairing import next_pair
from playground.arena.ratings import DEFAULT_BOOTSTRAP, Leaderboard, leaderboard
from playground.core.errors import UsageError  # noqa: F401 - the pages catch it from here
from playground.core.format import metrics_line
from playground.core.params import DEFAULT_MAX_TOKENS
from playground.core.policy import User
from playground.core.results import RunResult
from playground.core.specs import ModelSpec, load_specs
from playground.core.votes import Vote, Winner
from playground.engine.registry import Keys, usability
from playground.hosting.gate import Ask, Gate, LimitExceededError, default_gate
from playground.storage.arena import (
    ArenaActivity,
    ArenaError,
    ArenaStore,
    Participant,
    Side,
    StoredArena,
    StoredBattle,
)

if TYPE_CHECKING:
    from playground.storage.runs import Store

DEFAULT_VOTES_PER_MINUTE = 10
MAX_NAME = 100
ExportFormat = Literal["csv", "jsonl"]
# The leaderboard's note when latency and cost per answer are held back.
FIGURES_HIDDEN = (
    "Latency and cost per answer show to the arena's owner, and to everyone once the arena is closed: "
    "while it is open they could tell participants which model is which."
)
# A battle turn refused by the user's limits for its models' prices: which models, or how much they may
# cost, would tell them apart.
PRICE_REFUSED = (
    "Your limits on this server refuse this turn: the two models' maximum cost does not fit what is left of "
    "your daily budget, or one of them has no known price to check against it. Start a new battle (other "
    "models may fit), or try again once your daily limit resets."
)


@dataclass(frozen=True)
class ArenaSetup:
    """What creating an arena takes: a name, a pool of two or more models, optional prompts, limits."""

    name: str
    models: tuple[str, ...]
    prompts: tuple[str, ...] = ()
    votes_per_minute: int = DEFAULT_VOTES_PER_MINUTE
    max_tokens: int = DEFAULT_MAX_TOKENS


@dataclass(frozen=True)
class PoolOption:
    """A model that could join an arena's pool, and whether the server can call it now."""

    key: str
    usable: bool
    why: str


@dataclass(frozen=True)
class BlindAnswer:
    """One side's answer as a participant may see it before voting: no model name, no cost."""

    text: str
    answering: bool
    failed: str | None  # the error's kind (its message may name the model)


@dataclass(frozen=True)
class BlindTurn:
    """A prompt and both sides' answers, blind."""

    prompt: str
    a: BlindAnswer
    b: BlindAnswer


@dataclass(frozen=True)
class Reveal:
    """Who was behind each side, shown once the battle is voted on (or ended in an error), with each
    answer's figures per turn (latency, tokens, cost, each labelled with its source)."""

    model_a: str
    model_b: str
    winner: Winner | None
    figures_a: tuple[str, ...]
    figures_b: tuple[str, ...]


@dataclass(frozen=True)
class BattleView:
    """A battle as its participant sees it: blind turns, whether a vote is taken now, and the reveal."""

    battle_id: str
    arena_id: str
    turns: tuple[BlindTurn, ...]
    why_not_votable: str | None
    reveal: Reveal | None

    @property
    def votable(self) -> bool:
        """True when a vote on it is taken now."""
        return self.why_not_votable is None

    @property
    def answering(self) -> bool:
        """True while an answer of its last turn has not ended."""
        return any(t.a.answering or t.b.answering for t in self.turns)


@dataclass(frozen=True)
class AnswerFigures:
    """A model's answers in an arena: how many, median latency (runner's total) and cost per answer."""

    model: str
    answers: int
    median_total_s: float | None
    cost_per_answer: str  # "$0.000120 (genai-prices:…)" median, "local", or "unknown": never $0 by default


@dataclass(frozen=True)
class Standings:
    """An arena's leaderboard with each model's answer figures (of voted battles only), and its counts.
    `figures_shown` is False while the arena is open and its viewer is not the owner: `figures` is then
    empty and the table has no latency or cost column."""

    arena: StoredArena
    activity: ArenaActivity
    board: Leaderboard
    figures: Mapping[str, AnswerFigures] = field(default_factory=dict)
    figures_shown: bool = True

    def table_rows(self) -> list[dict[str, object]]:
        """One row per rated model, best first, for a table."""
        rows = []
        for r in self.board.ratings:
            row: dict[str, object] = {
                "rank": r.rank,
                "model": r.model,
                "rating": round(r.rating),
                "95% interval": f"{r.lower:.0f} – {r.upper:.0f}",
                "votes": r.votes,
                "wins / ties / losses": f"{r.wins} / {r.ties} / {r.losses}",
            }
            if self.figures_shown:
                fig = self.figures.get(r.model)
                row["median latency"] = _seconds(fig.median_total_s if fig else None)
                row["cost per answer (median)"] = fig.cost_per_answer if fig else "unknown"
            rows.append(row)
        return rows


class Arenas:
    """The arenas kept in one history database, and the models (with the server's keys) they battle."""

    def __init__(
        self,
        history: Store,
        specs: Mapping[str, ModelSpec] | None = None,
        keys: Keys | None = None,
        gate: Gate | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = ArenaStore(history)
        self.specs = dict(specs if specs is not None else load_specs())
        self.keys = keys  # None: the server's environment
        self.gate = gate or default_gate()
        self._rng = rng or random.SystemRandom()

    # --- the pool and the arena ---------------------------------------------------------------------
    def pool_options(self) -> list[PoolOption]:
        """Every model that answers prompts, with whether the server can call it now."""
        options = []
        for key, spec in sorted(self.specs.items(), key=lambda item: (item[1].provider, item[0])):
            if spec.generates_text:
                usable, why = usability(spec, self.keys)
                options.append(PoolOption(key, usable, why))
        return options

    def create(self, setup: ArenaSetup, owner: User) -> StoredArena:
        """Save a new arena; ArenaError (nothing saved) for no name or fewer than 2 usable models."""
        name = setup.name.strip()
        if not name:
            raise ArenaError("Give the arena a name.")
        models = list(dict.fromkeys(setup.models))
        self._check_pool(models)
        prompts = [p.strip() for p in setup.prompts if p.strip()]
        if not 1 <= setup.votes_per_minute <= 600:
            raise ArenaError("Votes per minute must be between 1 and 600.")
        if not 1 <= setup.max_tokens <= 32768:
            raise ArenaError("Max tokens per answer must be between 1 and 32768.")
        return self.store.create(
            name[:200], owner.id, models, prompts, setup.votes_per_minute, setup.max_tokens
        )

    def _check_pool(self, models: Sequence[str]) -> None:
        """ArenaError unless every model is known, answers prompts, is usable now, and there are two."""
        unknown = [m for m in models if m not in self.specs]
        if unknown:
            raise ArenaError(f"Unknown model {', '.join(unknown)}: pick models this server knows.")
        options = {o.key: o for o in self.pool_options()}  # models that answer prompts
        refused = [
            f"{m} ({options[m].why})" if m in options else f"{m} (it answers no prompts)"
            for m in models
            if m not in options or not options[m].usable
        ]
        if refused:
            raise ArenaError(f"Not usable now, so not in a pool: {'; '.join(refused)}.")
        if len(models) < 2:
            named = f" ({models[0]})" if models else ""
            raise ArenaError(f"An arena needs at least 2 usable models to pair; it has {len(models)}{named}.")

    def get(self, arena_id: str) -> StoredArena:
        """An arena by id (as a join link gives it); ArenaError for a malformed or unknown id."""
        if not is_arena_id(arena_id):
            raise ArenaError(
                "This link holds no arena id (32 hexadecimal characters): ask for the join link again."
            )
        arena = self.store.get(arena_id)
        if arena is None:
            raise ArenaError("There is no such arena: it may have been deleted. Ask for the join link again.")
        return arena

    def owned(self, user: User) -> list[StoredArena]:
        """The arenas `user` owns, newest first."""
        return self.store.list(owner=user.id)

    def owner_for_key(self, key: str) -> User:
        """The owner a local app's session becomes by typing an owner key given by the session that
        created arenas with it; ArenaError (nothing changes) when no arena is owned with that key."""
        if not key.strip():
            raise ArenaError("Type the owner key shown on the Arena page of the tab that made the arenas.")
        owner = local_owner(key)
        if not self.owned(owner):
            raise ArenaError("No arena is owned with this owner key: check it (copy it whole).")
        return owner

    def find(self, name_or_id: str, owner: str | None = None) -> StoredArena:
        """One arena by name (or id): ArenaError if none, or several owners have one of that name."""
        found = self.store.list(owner=owner, name=name_or_id)
        if not found and is_arena_id(name_or_id) and (arena := self.store.get(name_or_id)) is not None:
            found = [arena]
        if not found:
            raise ArenaError(f"No arena named {name_or_id!r}.")
        if len(found) > 1:
            ids = ", ".join(a.id for a in found)
            raise ArenaError(
                f"{len(found)} arenas are named {name_or_id!r} (different owners): give its id ({ids})."
            )
        return found[0]

    # --- owner's controls ---------------------------------------------------------------------------
    def _owned_by(self, arena_id: str, user: User, action: str) -> StoredArena:
        arena = self.get(arena_id)
        if arena.owner != user.id:
            raise ArenaError(f"Only the arena's owner can {action} it.")
        return arena

    def close(self, arena_id: str, user: User) -> None:
        """Stop taking battles and votes (the owner only)."""
        self._owned_by(arena_id, user, "close")
        self.store.set_closed(arena_id, True)

    def reopen(self, arena_id: str, user: User) -> None:
        """Take battles and votes again (the owner only)."""
        self._owned_by(arena_id, user, "reopen")
        self.store.set_closed(arena_id, False)

    def reset(self, arena_id: str, user: User) -> int:
        """Delete every battle and vote (the owner only); returns how many votes went."""
        self._owned_by(arena_id, user, "reset")
        return self.store.reset(arena_id)

    def set_address(self, arena_id: str, user: User, address: str) -> str | None:
        """Save the app's address as participants reach it, for the join link (the owner only; blank:
        the address the owner's browser uses); AddressError for one that is not an http(s) address."""
        self._owned_by(arena_id, user, "change")
        checked = checked_address(address)
        self.store.set_address(arena_id, checked)
        return checked

    def export(self, arena_id: str, user: User, fmt: ExportFormat) -> str:
        """The arena's votes as CSV (safe to open in a spreadsheet) or as a JSON Lines vote log (the
        owner only)."""
        arena = self._owned_by(arena_id, user, "export")
        votes = self.store.votes(arena_id)
        return votes_to_csv(arena, votes) if fmt == "csv" else votes_to_jsonl(arena, votes)

    # --- participants and battles -------------------------------------------------------------------
    def join(self, arena_id: str, display_name: str, user: User, device: str | None = None) -> Participant:
        """Join an arena: with a display name in a local app; as the signed-in user in hosted mode (once:
        joining again is the same participant). `device` (a local app's participant: the address they
        connect from) bounds the votes per minute per device too, since a reload joins anew."""
        self.get(arena_id)
        if self.gate.policy.enabled:
            return self.store.join(arena_id, user.name[:MAX_NAME], user.id)
        name = display_name.strip()
        if not name:
            raise ArenaError("Type a display name to join.")
        if len(name) > MAX_NAME:
            raise ArenaError(f"A display name has at most {MAX_NAME} characters.")
        digest = device_digest(arena_id, device) if device else None
        return self.store.join(arena_id, name, None, digest)

    def _participant(self, participant_id: str, user: User) -> Participant:
        participant = self.store.participant(participant_id)
        if participant is None or (participant.user_id is not None and participant.user_id != user.id):
            raise ArenaError("You have not joined this arena: open its join link again.")
        return participant

    def start_battle(self, arena_id: str, participant_id: str, prompt: str, user: User) -> BattleTurn:
        """A new battle on `prompt` between the next balanced pair, its first turn started (iterate its
        events). ArenaError/UsageError (nothing saved or sent) for an empty prompt, a closed arena, a
        participant who has not joined, a conversation too long, or the user's limits (hosted mode)."""
        text = _checked_prompt(prompt)
        participant = self._participant(participant_id, user)
        arena = self.get(arena_id)
        if participant.arena_id != arena.id:
            raise ArenaError("You have not joined this arena: open its join link again.")
        if not arena.is_open:
            raise ArenaError(f"The arena {arena.name!r} is closed: you cannot start a battle in it any more.")
        models = next_pair(arena.models, self.store.pair_counts(arena.id), self._rng)
        calls = side_calls(self.specs, models, (), text, arena.max_tokens, self.keys)
        return self._run(
            calls, user, lambda: (self.store.start_battle(arena.id, participant.id, *models, text), 0)
        )

    def follow_up(self, battle_id: str, participant_id: str, prompt: str, user: User) -> BattleTurn:
        """The next turn of a battle not yet voted on: each model gets its own conversation so far."""
        text = _checked_prompt(prompt)
        participant = self._participant(participant_id, user)
        battle = self.store.battle(battle_id)
        if battle is None:
            raise ArenaError(f"There is no battle {battle_id!r} (it may have been deleted by a reset).")
        if battle.participant_id != participant.id:
            raise ArenaError("This battle is another participant's.")
        arena = self.get(battle.arena_id)
        calls = side_calls(
            self.specs, (battle.model_a, battle.model_b), battle.turns, text, arena.max_tokens, self.keys
        )

        def reserve() -> tuple[str, int]:
            before = self.store.start_turn(battle_id, participant.id, text)  # checked again, atomically
            return battle_id, len(before.turns)

        return self._run(calls, user, reserve)

    def _run(
        self, calls: Sequence[SideCall], user: User, reserve: Callable[[], tuple[str, int]]
    ) -> BattleTurn:
        """Admit a turn under the user's limits, reserve it in the store (battle id, turn index), then
        hand it out to run."""
        finished = threading.Event()
        ask = battle_ask(calls)
        try:
            ticket = self.gate.admit(user, ask, self.store.store, done=finished)
        except LimitExceededError as exc:
            blind = self._blind_refusal(user, ask)
            if blind is None:
                raise
            raise blind from exc
        try:
            battle_id, index = reserve()
        except BaseException:
            ticket.release()  # nothing runs: its place and reserved cost are free again
            raise
        return BattleTurn(self.store, battle_id, index, calls, user, ticket, finished)

    def _blind_refusal(self, user: User, ask: Ask) -> LimitExceededError | None:
        """The refusal to show when the gate refused a turn for its models' prices (their maximum cost,
        or a model with no price), else None: the gate's own message then names no model (a count, runs
        at once, sign-in) and stands. Checked by asking again with the prices left out."""
        priceless = Ask(what=ask.what, calls=ask.calls, max_tokens=ask.max_tokens, max_cost_usd=Decimal(0))
        try:
            self.gate.check(user, priceless, self.store.store)
        except LimitExceededError:
            return None
        return LimitExceededError(PRICE_REFUSED)

    def vote(self, battle_id: str, participant_id: str, winner: Winner, user: User) -> BattleView:
        """Record a vote (A, B, tie or both bad) and reveal the models; ArenaError (nothing saved) for a
        battle that does not exist, is not votable, was voted on, a closed arena or too many votes."""
        participant = self._participant(participant_id, user)
        return _view(self.store.vote(battle_id, participant.id, winner))

    def view(self, battle_id: str, participant_id: str, user: User) -> BattleView:
        """A participant's own battle, blind until voted on."""
        participant = self._participant(participant_id, user)
        battle = self.store.battle(battle_id)
        if battle is None or battle.participant_id != participant.id:
            raise ArenaError(
                f"There is no battle {battle_id!r} of yours (it may have been deleted by a reset)."
            )
        return _view(battle)

    # --- the leaderboard ----------------------------------------------------------------------------
    def activity(self, arena_id: str) -> ArenaActivity:
        """Participants, battles and votes so far (cheap: the presenter view reads it every few seconds)."""
        return self.store.activity(arena_id)

    def standings(
        self,
        arena_id: str,
        bootstrap: int = DEFAULT_BOOTSTRAP,
        seed: int = 0,
        viewer: User | None = None,
    ) -> Standings:
        """The arena's leaderboard (Bradley–Terry, bootstrap intervals) with answer figures per model:
        those only for its owner (`viewer`; None: a public screen such as the presenter view) or once the
        arena is closed, as they could tell participants which model is which."""
        arena = self.get(arena_id)
        votes = tuple(v.as_vote() for v in self.store.votes(arena_id))
        board = _board(votes, bootstrap, seed, arena.models)
        shown = not arena.is_open or (viewer is not None and viewer.id == arena.owner)
        figures = answer_figures(self.store.answers(arena_id)) if shown else {}
        return Standings(arena, self.store.activity(arena_id), board, figures, shown)


@lru_cache(maxsize=32)
def _board(votes: tuple[Vote, ...], bootstrap: int, seed: int, pool: tuple[str, ...]) -> Leaderboard:
    # The presenter view asks every few seconds: the same votes give the same board without refitting.
    return leaderboard(votes, bootstrap, seed, pool)


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _checked_prompt(prompt: str) -> str:
    text = prompt.strip()
    if not text:
        raise ArenaError("The prompt is empty: type something for both models to answer.")
    return text


def answer_figures(answers: Sequence[RunResult]) -> dict[str, AnswerFigures]:
    """Per model: answers, median total latency of those that succeeded, median cost per answer."""
    by_model: dict[str, list[RunResult]] = {}
    for result in answers:
        by_model.setdefault(result.model, []).append(result)
    figures = {}
    for model, results in by_model.items():
        ok = [r for r in results if r.ok]
        latencies = [r.total_s for r in ok if r.total_s is not None]
        figures[model] = AnswerFigures(
            model, len(results), statistics.median(latencies) if latencies else None, _cost_label(ok)
        )
    return figures


def _cost_label(results: Sequence[RunResult]) -> str:
    costs = [r.cost_usd for r in results if r.cost_usd is not None]
    if costs:
        sources = sorted({r.cost_source for r in results if r.cost_usd is not None})
        return f"${Decimal(statistics.median(costs)):.6f} ({', '.join(sources)})"
    return "local" if any(r.cost_source == "local" for r in results) else "unknown"


def _figures(battle: StoredBattle, side: Side) -> tuple[str, ...]:
    lines = []
    for turn in battle.turns:
        result = turn.side(side)
        if result is None:
            lines.append("still answering")
        elif result.error is not None:
            # Its kind only: a provider's message may name its server's address or the context window.
            lines.append(f"failed ({result.error.kind})")
        else:
            lines.append(metrics_line(result))
    return tuple(lines)


def _blind(result: RunResult | None) -> BlindAnswer:
    if result is None:
        return BlindAnswer("", True, None)
    return BlindAnswer(result.text, False, result.error.kind if result.error else None)


def _view(battle: StoredBattle) -> BattleView:
    """What the participant may see: names and figures only once voted on, or once it failed."""
    shown = battle.winner is not None or (battle.failed and not battle.answering)
    reveal = (
        Reveal(battle.model_a, battle.model_b, battle.winner, _figures(battle, "a"), _figures(battle, "b"))
        if shown
        else None
    )
    turns = tuple(BlindTurn(t.prompt, _blind(t.a), _blind(t.b)) for t in battle.turns)
    return BattleView(battle.id, battle.arena_id, turns, battle.not_votable_reason(), reveal)
