"""Pictures through OpenAI's image endpoint (and Azure OpenAI's, the same wire format), with the official
`openai` SDK: `/v1/images/generations`, always asked for `b64_json`. A server that answers with a URL is
refused: the playground never fetches a URL a model gave. Clients, keys, egress guard and error mapping are
the chat adapter's own (providers/openai_compat.py), as for speech (providers/openai_speech.py).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any, ClassVar

from providers import errors, pictures
from providers.base import CallTarget, CancelToken, ChatRequest, Chunk, Picture, Snippet, Task
from providers.openai_compat import AzureOpenAIProvider, OpenAIProvider
from providers.openai_speech import _omit_key_header

URL_REFUSED = "the server sent a URL; the playground never fetches model-given URLs"


class _Painting:
    """`paint` for an OpenAI-shaped client (mixed into the OpenAI and Azure adapters)."""

    tasks: ClassVar[tuple[Task, ...]] = ("text-to-image",)
    accepts: ClassVar[tuple[str, ...]] = ()
    sees_images: ClassVar[bool] = False
    client: Any
    model: str
    api_key: str
    _map: Any  # the chat adapter's error mapping (openai_compat.OpenAIProvider._map)

    quality: str | None = None  # a spec's `params.quality` (gpt-image-1: low, medium, high)

    def paint(self, prompt: str, size: str) -> Picture:
        """One picture of `prompt` as the server's base64 answer, decoded and checked by Pillow."""
        options: dict[str, Any] = {"quality": self.quality} if self.quality else {}
        if not self.model.startswith("gpt-image"):
            # gpt-image models always answer in base64 and refuse the parameter; the others are asked.
            options["response_format"] = "b64_json"
        try:
            response = self.client.images.generate(
                model=self.model, prompt=prompt, size=size, n=1, **options, **_omit_key_header(self.api_key)
            )
            first = response.data[0]
        except Exception as exc:  # noqa: BLE001 - every SDK failure (and a malformed answer) is mapped
            raise self._map(exc) from exc
        return _picture(getattr(first, "b64_json", None), getattr(first, "url", None), self.model)

    @classmethod
    def snippet(cls, target: CallTarget, request: ChatRequest) -> Snippet:
        """The SDK call writing one picture to a file."""
        text = request.messages[-1].content if request.messages else ""
        python = (
            "import base64, os\nfrom openai import OpenAI\n\n"
            f"client = OpenAI(api_key=os.environ[{(target.key_env or 'OPENAI_API_KEY')!r}])\n"
            f"image = client.images.generate(model={target.model!r}, prompt={text!r}, "
            "size='1024x1024', response_format='b64_json')\n"
            "open('picture.png', 'wb').write(base64.b64decode(image.data[0].b64_json))\n"
        )
        return Snippet(python, None)

    def stream(self, request: ChatRequest, cancel: CancelToken) -> Iterator[Chunk]:
        """An image model answers no prompt with text."""
        raise errors.BadRequestError("a text-to-image model answers no prompt with text: it paints one")


def _picture(b64: str | None, url: str | None, model: str) -> Picture:
    """The answer's picture: base64 decoded, then opened by Pillow; a URL alone is refused unfetched."""
    if not b64:
        raise errors.BadResponseError(URL_REFUSED if url else "the image answer holds no picture")
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.BadResponseError("the image answer's b64_json is not base64") from exc
    facts = pictures.inspect(data, f"{model}'s picture")
    return Picture(data, facts.mime, facts.width, facts.height)


class OpenAIPainter(_Painting, OpenAIProvider):
    """Text-to-image on OpenAI or an OpenAI-compatible server (dall-e-3, gpt-image-1, ...)."""

    def __init__(self, *, quality: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.quality = quality


class AzurePainter(_Painting, AzureOpenAIProvider):
    """Text-to-image on an Azure OpenAI image deployment."""

    def __init__(self, *, quality: str | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.quality = quality
