"""Who owns an arena, and which device a participant votes from, in a local app (no sign-in).

In a local app every visitor is the same local user, so owning an arena cannot rest on who the visitor
is. The browser session that creates an arena holds a random owner key; the arena's `owner` is a digest of
that key, so the database never holds the key itself and no other session can act as the owner without
being given it. In hosted mode the owner is the signed-in creator, as for every other row.

A participant of a local app is anyone who types a display name, so they can join again (a reload joins
anew); the votes-per-minute limit is therefore also kept per device: the address they connect from, kept
only as a digest salted with the arena's id.
"""

from __future__ import annotations

import hashlib
import secrets

from playground.core.policy import User

OWNER_PREFIX = "local-key:"
# A visitor on the server's own machine (Streamlit gives no address for loopback): one device.
THIS_MACHINE = "this machine"


def new_owner_key() -> str:
    """A fresh owner key for a browser session (256 random bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def local_owner(key: str) -> User:
    """The owner that holding `key` makes a local app's session: its id is the key's SHA-256 digest."""
    digest = hashlib.sha256(key.strip().encode()).hexdigest()
    return User(OWNER_PREFIX + digest, "arena owner (this browser session)")


def device_digest(arena_id: str, address: str) -> str:
    """The participant's device as stored: the address's SHA-256 digest salted with the arena id."""
    return hashlib.sha256(f"{arena_id}|{address}".encode()).hexdigest()
