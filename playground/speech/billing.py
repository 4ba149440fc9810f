"""Who pays for a speech comparison: one admission by the Gate for its hosted calls, and every call that
reached a model in the usage ledger (kind "speech"), on `hosting.CallPayer` as image comparisons are."""

from __future__ import annotations

from dataclasses import dataclass

from playground.hosting.billing import CallPayer, Priced
from playground.hosting.gate import What

__all__ = ["SPEECH_CALL", "Priced", "SpeechPayer"]

SPEECH_CALL = "speech"  # the usage ledger's kind for a speech call


@dataclass(frozen=True)
class SpeechPayer(CallPayer):
    """Who pays for speech calls (ledger kind "speech")."""

    kind: What = "speech"
