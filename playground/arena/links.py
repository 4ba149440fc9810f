"""Where an arena is reached: the join link, its query parameter and the arena pages' addresses.

No I/O and no heavy import: app.py reads the pages' addresses on every page load."""

from __future__ import annotations

from playground.core.errors import UsageError
from playground.core.results import is_run_id

JOIN_PARAM = "arena"  # the join link's query parameter: ?arena=<id>
ARENA_PATH = "arena"  # the Arena page's address in the app (app.py's navigation gives it)
PRESENTER_PATH = "arena-presenter"


class AddressError(UsageError):
    """An app address typed for the join link that is not an http(s) address."""


def is_arena_id(value: str) -> bool:
    """True for an arena id's format (a uuid4 in hex, as run ids): a join link's value is checked first."""
    return is_run_id(value)


def checked_address(text: str) -> str | None:
    """The app's address as typed for the join link (None when blank); AddressError unless it is an
    http(s) address with no query or fragment. It is only ever shown and drawn as a QR code, never fetched."""
    from urllib.parse import urlsplit

    base = text.strip().rstrip("/")
    if not base:
        return None
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in base):
        raise AddressError("The app's address must look like http://192.168.1.20:8501 (http or https).")
    if parts.query or parts.fragment or len(base) > 300:
        raise AddressError("The app's address takes no ?query or #fragment: give only where the app is.")
    return base


def join_link(arena_id: str, page_url: str | None, address: str | None = None) -> str:
    """The link participants open: the app's address, then the Arena page with ?arena=<id>.

    The address is the arena's own (`address`: the app as phones reach it, when the owner's browser uses
    localhost), else the one this page (`page_url`, as the browser opened it) is under."""
    from urllib.parse import urlsplit

    if address:
        base = address
    else:
        parts = urlsplit(page_url or "http://localhost:8501/")
        folder = parts.path.rsplit("/", 1)[0]  # the app's own path prefix (a proxy's base path), if any
        base = f"{parts.scheme}://{parts.netloc}{folder}"
    return f"{base}/{ARENA_PATH}?{JOIN_PARAM}={arena_id}"
