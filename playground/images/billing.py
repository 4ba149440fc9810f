"""Who pays for an image comparison: one admission by the Gate for its hosted calls, and every call that
reached a model in the usage ledger (kind "image"), on `hosting.CallPayer` as speech comparisons are."""

from __future__ import annotations

from dataclasses import dataclass

from playground.hosting.billing import CallPayer, Priced
from playground.hosting.gate import What

__all__ = ["IMAGE_CALL", "ImagePayer", "Priced"]

IMAGE_CALL = "image"  # the usage ledger's kind for an image call (describe or paint)


@dataclass(frozen=True)
class ImagePayer(CallPayer):
    """Who pays for image calls (ledger kind "image")."""

    kind: What = "image"
