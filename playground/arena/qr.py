"""The QR code of an arena's join link, as a PNG image (segno: a maintained, pure-Python QR encoder)."""

from __future__ import annotations

import io


def join_qr_png(link: str, scale: int = 8) -> bytes:
    """A PNG of the QR code for `link` (error correction M: still reads from a projector at an angle)."""
    import segno

    buffer = io.BytesIO()
    segno.make(link, error="m", micro=False).save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
