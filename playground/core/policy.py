"""Hosted mode: who is signed in, and the limits an admin set in the server's environment.

Without `PLAYGROUND_HOSTED=1` the app is a single-user local app: everything belongs to the owner
"local" and no limit applies. With it, every page needs a signed-in user, each user sees only their own
data, user URLs go through the egress guard, and every run is checked against the limits here before
any model is called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from providers.egress import ALLOWED_HOSTS_VARIABLE as ALLOWED_HOSTS_ENV

if TYPE_CHECKING:
    from providers.egress import EgressPolicy

HOSTED_ENV = "PLAYGROUND_HOSTED"
ADMINS_ENV = "PLAYGROUND_ADMINS"
DAILY_USD_ENV = "PLAYGROUND_USER_DAILY_USD"
ALLOW_UNPRICED_ENV = "PLAYGROUND_ALLOW_UNPRICED"
# Owner of everything made in local mode, and of every row saved before hosted mode existed.
LOCAL_OWNER = "local"
# How long a process's admissions (runs going, their reserved cost) outlive its last renewal: a replica
# that dies stops holding its users' places this long after (an evaluation worker uses its job lease).
ADMISSION_LEASE_S = 30.0


class HostingConfigError(ValueError):
    """A hosted-mode setting in the environment that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class User:
    """Who runs something: a signed-in OpenID Connect user, or the one user of a local app.

    `id` is what rows are owned by: the issuer and the subject together, because a subject is unique only
    within its issuer."""

    id: str
    name: str
    email: str | None = None  # only when the identity provider says it verified it

    @classmethod
    def from_claims(cls, claims: Mapping[str, object]) -> User:
        """The user an ID token's claims describe (st.user holds them)."""
        issuer, subject = str(claims.get("iss") or ""), str(claims.get("sub") or "")
        if not subject:
            raise HostingConfigError("the identity provider sent no subject ('sub') for this user")
        # An address the provider did not verify could be anyone's: it never names an admin.
        verified = claims.get("email_verified") is True
        email = str(claims["email"]).strip().lower() if claims.get("email") and verified else None
        name = str(claims.get("name") or claims.get("email") or subject)
        return cls(id=f"{issuer}|{subject}", name=name, email=email)


LOCAL_USER = User(LOCAL_OWNER, "local user")


# Each limit with its variable, its default and what it is for; the admin page lists them from here.
@dataclass(frozen=True)
class LimitSetting:
    """One numeric limit: the variable that sets it and its default."""

    env: str
    default: int
    meaning: str


LIMIT_SETTINGS = {
    "concurrent_runs": LimitSetting(
        "PLAYGROUND_MAX_CONCURRENT_RUNS", 2, "runs and evaluations going at once"
    ),
    "max_tokens": LimitSetting("PLAYGROUND_MAX_TOKENS", 4096, "max tokens of one answer"),
    "calls_per_run": LimitSetting(
        "PLAYGROUND_MAX_CALLS_PER_RUN", 12, "calls in one comparison (repeat × models)"
    ),
    "eval_calls": LimitSetting("PLAYGROUND_MAX_EVAL_CALLS", 2000, "calls in one evaluation (rows × models)"),
    "eval_concurrency": LimitSetting("PLAYGROUND_MAX_EVAL_CONCURRENCY", 4, "calls at once in one evaluation"),
}


@dataclass(frozen=True)
class Limits:
    """What one user may do; checked before any upstream call."""

    daily_usd: Decimal | None = None  # None: no spend cap
    concurrent_runs: int = LIMIT_SETTINGS["concurrent_runs"].default
    max_tokens: int = LIMIT_SETTINGS["max_tokens"].default
    calls_per_run: int = LIMIT_SETTINGS["calls_per_run"].default
    eval_calls: int = LIMIT_SETTINGS["eval_calls"].default
    eval_concurrency: int = LIMIT_SETTINGS["eval_concurrency"].default
    # Model keys a run may use although no price is known for them ("*": any). Local models cost nothing
    # and are always allowed.
    unpriced_allowed: frozenset[str] = frozenset()

    def allows_unpriced(self, model_key: str) -> bool:
        """True when the admin allowed this model to run without a known price."""
        return "*" in self.unpriced_allowed or model_key in self.unpriced_allowed

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        """The limits the environment sets, defaults elsewhere; HostingConfigError names a bad variable."""
        numbers = {name: _positive_int(env, s.env, s.default) for name, s in LIMIT_SETTINGS.items()}
        return cls(
            daily_usd=_money(env, DAILY_USD_ENV),
            unpriced_allowed=_names(env.get(ALLOW_UNPRICED_ENV, "")),
            **numbers,
        )


@dataclass(frozen=True)
class HostedPolicy:
    """The hosted-mode settings of this server (all from its environment)."""

    enabled: bool = False
    admins: frozenset[str] = frozenset()  # e-mail addresses, lower case
    allowed_endpoint_hosts: frozenset[str] = frozenset()  # "*" allows any public host
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HostedPolicy:
        """This server's policy: PLAYGROUND_HOSTED=1 turns hosted mode on; the rest only matter then."""
        env = os.environ if env is None else env
        enabled = env.get(HOSTED_ENV, "").strip().lower() in ("1", "true", "yes", "on")
        if not enabled:
            return cls()
        return cls(
            enabled=True,
            admins=_names(env.get(ADMINS_ENV, "")),
            allowed_endpoint_hosts=_names(env.get(ALLOWED_HOSTS_ENV, "")),
            limits=Limits.from_env(env),
        )

    def is_admin(self, user: User) -> bool:
        """True for users whose verified e-mail is listed in PLAYGROUND_ADMINS (and the local user of a
        local app)."""
        if not self.enabled:
            return True
        return user.email is not None and user.email in self.admins

    @property
    def user_urls_allowed(self) -> bool:
        """May a user add a URL of their own? Always in local mode; in hosted mode only to listed hosts."""
        return not self.enabled or bool(self.allowed_endpoint_hosts)

    def check_user_url(self, url: str) -> None:
        """Refuse (EndpointError) a URL a user typed that this server may not call; a local app allows any.

        The same guard checks the address again when each call connects (DNS can change in between)."""
        if not self.enabled:
            return
        from playground.core.specs import EndpointError
        from providers.egress import EgressRefusedError

        if not self.user_urls_allowed:
            raise EndpointError(f"this shared instance allows no endpoints of your own ({ALLOWED_HOSTS_ENV})")
        try:
            self.egress().check_url(url)
        except EgressRefusedError as exc:
            raise EndpointError(exc.message) from exc

    def egress(self) -> EgressPolicy | None:
        """The guard every user-typed URL goes through in hosted mode (None: local mode, no guard)."""
        if not self.enabled:
            return None
        from providers.egress import EgressPolicy

        return EgressPolicy(allowed_hosts=self.allowed_endpoint_hosts)


def day_start(now: datetime | None = None) -> datetime:
    """Midnight UTC of today: daily spend counts from here."""
    now = now or datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def next_reset(now: datetime | None = None) -> datetime:
    """When the daily spend starts again from zero."""
    return day_start(now) + timedelta(days=1)


def _names(raw: str) -> frozenset[str]:
    return frozenset(part.strip().lower() for part in raw.split(",") if part.strip())


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise HostingConfigError(f"{name} must be a whole number, not {raw!r}") from exc
    if value < 1:
        raise HostingConfigError(f"{name} must be at least 1, not {value}")
    return value


def _money(env: Mapping[str, str], name: str) -> Decimal | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise HostingConfigError(f"{name} must be an amount in USD, not {raw!r}") from exc
    if not value.is_finite() or value < 0:
        raise HostingConfigError(f"{name} must be a finite amount of at least 0 USD, not {raw!r}")
    return value
