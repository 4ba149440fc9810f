"""An image as a comparison takes it: decoded once by Pillow, its type and size known, its limits checked."""

from __future__ import annotations

from dataclasses import dataclass

from playground.core.errors import UsageError
from providers import pictures
from providers.base import ImageInput
from providers.errors import BadImageError


class ImageFileError(UsageError):
    """An image that cannot be compared: empty, not an image, corrupt, or too large; one line naming it."""


@dataclass(frozen=True)
class ImageFile:
    """One image to ask about: its name, its bytes as uploaded, their type and the size in pixels."""

    name: str
    data: bytes
    mime: str
    width: int
    height: int

    def as_input(self) -> ImageInput:
        """The image as a request carries it."""
        return ImageInput(self.data, self.mime)


def read_image(data: bytes, name: str) -> ImageFile:
    """The file decoded once (Pillow); ImageFileError naming it when it is empty, not an image, corrupt,
    over 20 MB or over 40 megapixels. Nothing is sent to any model before this passes."""
    try:
        facts = pictures.inspect(data, name)
    except BadImageError as exc:
        raise ImageFileError(exc.message) from exc
    return ImageFile(name, data, facts.mime, facts.width, facts.height)


def sample_card() -> ImageFile:
    """A picture to ask about with nothing uploaded: a test card drawn here with Pillow (three coloured
    shapes on a grey ground, 320x200), so the page works offline and its answer can be checked by eye."""
    import io

    from PIL import Image, ImageDraw

    card = Image.new("RGB", (320, 200), (200, 200, 200))
    draw = ImageDraw.Draw(card)
    draw.rectangle((20, 40, 110, 160), fill=(220, 40, 40))  # a red square
    draw.ellipse((130, 50, 210, 130), fill=(40, 160, 60))  # a green circle
    draw.polygon(((240, 160), (300, 160), (270, 60)), fill=(40, 80, 220))  # a blue triangle
    buffer = io.BytesIO()
    card.save(buffer, format="PNG")
    return read_image(buffer.getvalue(), "test-card.png")
