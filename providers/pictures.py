"""Image files as the image adapters and the images service read them: opened and fully decoded by Pillow
(never by hand), so an empty, corrupt or oversized file is refused, naming it, before anything is sent."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from providers.errors import BadImageError

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # OpenAI's own limit for one image in a chat request
MAX_IMAGE_PIXELS = 40_000_000  # past this, decoding alone takes seconds and hundreds of MB
# The formats every vision chat API here takes, by Pillow's format name.
MIME_OF_FORMAT = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


@dataclass(frozen=True)
class ImageFacts:
    """What decoding an image found: its type and its size in pixels."""

    mime: str
    width: int
    height: int


def inspect(data: bytes, name: str) -> ImageFacts:
    """The image's type and size, after decoding every pixel; BadImageError naming `name` when it is
    empty, over 20 MB or 40 megapixels, not an image of a format the APIs take, or corrupt."""
    if not data:
        raise BadImageError(f"{name} is empty (0 bytes)")
    if len(data) > MAX_IMAGE_BYTES:
        raise BadImageError(
            f"{name} is {len(data) / 1e6:,.1f} MB, over the {MAX_IMAGE_BYTES // 2**20} MB limit"
        )
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height, kind = image.width, image.height, image.format
            _check_pixels(name, width, height)  # before load(): the header is enough to refuse
            image.load()  # a truncated or corrupt file fails here, not in the model's server
    except UnidentifiedImageError as exc:
        raise BadImageError(f"{name} could not be read as an image") from exc
    except Image.DecompressionBombError as exc:
        raise BadImageError(f"{name} has too many pixels to decode safely") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's ways of saying "corrupt"
        raise BadImageError(f"{name} is corrupt ({type(exc).__name__}: {exc})") from exc
    if kind not in MIME_OF_FORMAT:
        raise BadImageError(f"{name} is a {kind} image; the models take {', '.join(MIME_OF_FORMAT)}")
    return ImageFacts(MIME_OF_FORMAT[kind], width, height)


def _check_pixels(name: str, width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise BadImageError(
            f"{name} is {width}x{height} ({width * height / 1e6:,.1f} megapixels), over the "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixel limit"
        )


def png_of(image: Any, name: str) -> bytes:
    """A Pillow image an SDK handed over (decoded lazily from a server's bytes) as PNG bytes, refused
    (BadImageError naming `name`) past the pixel limit before any pixel is decoded, or when it is corrupt.
    `inspect` checks the result as it checks any picture."""
    _check_pixels(name, image.width, image.height)
    out = io.BytesIO()
    try:
        image.save(out, format="PNG")
    except (OSError, SyntaxError, ValueError) as exc:  # a truncated or corrupt answer fails at decoding
        raise BadImageError(f"{name} is corrupt ({type(exc).__name__}: {exc})") from exc
    return out.getvalue()
