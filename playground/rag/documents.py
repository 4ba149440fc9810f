"""Documents for retrieval: .txt, .md, .html, .pdf and .docx files read to text, or refused with one clear message.

Converters, measured in this project's venv (which already had numpy, Pillow, lxml, cryptography, requests):
- pypdf (PDF, 4.3 MB), mammoth (DOCX → HTML, 0.7 MB), BeautifulSoup with soupsieve (1.3 MB) and
  markdownify (HTML → markdown), charset-normalizer (already there): 6.5 MB in all, pure Python.
  `markitdown[pdf,docx]` 0.1.9 would add 104 MB: magika pulls in onnxruntime (78 MB) to guess file types
  we know from the name, and pdfminer.six, pdfplumber and pypdfium2 come along.
- On bad input markitdown is no better: a PNG named .txt comes back as mojibake text, a scanned PDF or an
  empty file as "" without complaint, a damaged or encrypted PDF as a `FileConversionException` naming
  pdfminer's exception class (`PSEOF`, `PDFPasswordIncorrect`) with an empty message. Those checks are
  ours either way, and for DOCX and HTML markitdown runs mammoth and markdownify, which we call directly.
- pypdf stops decompression bombs itself (75 MB per stream), tells an encrypted file apart and counts
  pages before reading them. python-docx, the other DOCX candidate, gives paragraphs and style names, not
  headings, lists and tables: mammoth's HTML keeps the structure with no mapping code of ours.

Nothing here reaches the network or the file system: the converters get bytes in memory; mammoth's
external file access stays off and images are never opened (only their alt text is kept); HTML images
become their alt text, so no remote URL survives as an image either. Text that reads like instructions
to a model is kept as it is: fencing retrieved text is the prompt's job, not the parser's.
"""

from __future__ import annotations

import codecs
import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

from playground.core.sizes import megabytes_limit

if TYPE_CHECKING:
    from pypdf import PdfReader

MAX_MB_ENV = "PLAYGROUND_MAX_DOCUMENT_MB"
# HTML costs most per byte (BeautifulSoup's tree, then markdownify's walk of it): 8.7 MB of HTML took 13 s
# and 475 MB of memory here, where 10 MB of PDF or DOCX stays within the page and XML caps below.
DEFAULT_MAX_MB = 10.0
# pypdf reads a dense page of text in about 5 ms (2,000 pages of 60 lines each: 9.6 s here), so the cap
# keeps a file to seconds, not minutes; a longer document should be split. Refusing costs 0.2 s.
MAX_PDF_PAGES = 2_000
# A DOCX is a zip whose XML mammoth reads whole with minidom: about 0.4 s and 9 MB of memory per MB of
# XML (4.7 MB: 1.8 s, 42 MB). A long Word report has 2-5 MB; a small file that unpacks to more than this
# is refused before any part is read (a zip bomb). Images, never opened here, do not count.
MAX_DOCX_XML_BYTES = 30_000_000

KINDS = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}
KINDS |= {".pdf": "pdf", ".docx": "docx"}
SUPPORTED = ", ".join(KINDS)
# Text from these kinds is markdown (headings, lists, tables), so chunking can split on its structure.
MARKDOWN_KINDS = frozenset({"md", "html", "docx"})

# UTF-32 first: its little-endian BOM begins with UTF-16's. Python's codecs drop the BOM.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"))
_BOMS += ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Dropped with their content: code, styling, embedded objects and fallbacks shown only without scripts.
_HTML_DROPPED = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas")


class DocumentError(ValueError):
    """A document that cannot be used; the message names the file and what is wrong with it."""


@dataclass(frozen=True)
class ParsedDocument:
    """A document's text: plain for txt and pdf, markdown for md, html and docx. `pages` is for PDFs."""

    name: str
    kind: str
    text: str
    pages: int | None
    chars: int

    @property
    def markdown(self) -> bool:
        """True when the text is markdown, so a splitter can respect its headings and lists."""
        return self.kind in MARKDOWN_KINDS


def max_document_bytes() -> int:
    """The size limit for one document: $PLAYGROUND_MAX_DOCUMENT_MB (default 10 MB)."""
    try:
        return megabytes_limit(MAX_MB_ENV, DEFAULT_MAX_MB)
    except ValueError as exc:
        raise DocumentError(str(exc)) from exc


def parse_document(
    name: str, data: bytes, *, max_bytes: int | None = None, max_pages: int = MAX_PDF_PAGES
) -> ParsedDocument:
    """The text of one uploaded file, its kind chosen by the name's suffix; `DocumentError` if unusable.

    `max_bytes` defaults to $PLAYGROUND_MAX_DOCUMENT_MB; `max_pages` bounds the work on a PDF.
    """
    limit = max_document_bytes() if max_bytes is None else max_bytes
    if len(data) > limit:
        raise DocumentError(
            f"{name} is {len(data) / 1e6:.1f} MB, over the {limit / 1e6:g} MB limit ({MAX_MB_ENV})"
        )
    suffix = PurePath(name).suffix.lower()
    kind = KINDS.get(suffix)
    if kind is None:
        shown = f"{suffix} files" if suffix else "files without an extension"
        raise DocumentError(f"{name}: {shown} are not supported; use {SUPPORTED}")
    if not data.strip():
        raise DocumentError(f"{name} is empty")
    pages = None
    if kind == "pdf":
        text, pages = _pdf_text(name, data, max_pages)
    elif kind == "docx":
        text = _html_to_markdown(_docx_html(name, data))
    elif kind == "html":
        text = _html_to_markdown(_decode(name, data))
    else:
        text = _decode(name, data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        reason = " (only images, as in a scan: run OCR on it first)" if kind == "pdf" else ""
        raise DocumentError(f"{name} has no text{reason}")
    return ParsedDocument(name=name, kind=kind, text=text, pages=pages, chars=len(text))


def _decode(name: str, data: bytes) -> str:
    """Text from bytes: UTF-8 (a BOM is dropped) or UTF-16/32 with a BOM, else what charset-normalizer finds."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise DocumentError(f"{name} starts as {codec} text but is not: save it as UTF-8") from exc
    # Apart from UTF-16/32 (told by their BOM above), no encoding puts NUL bytes in text, and every image,
    # archive or executable has them: this tells a PNG renamed .txt from text before any guessing.
    if b"\x00" in data[:65536]:
        raise DocumentError(f"{name} is not a text file: it holds binary data (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise DocumentError(f"{name} is not text in any encoding we recognise: save it as UTF-8")
    return str(best)


def _pdf_text(name: str, data: bytes, max_pages: int) -> tuple[str, int]:
    """The text of every page, pages separated by a blank line, and the page count."""
    import pypdf
    from pypdf.errors import LimitReachedError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not _opens_without_password(reader):
            raise DocumentError(f"{name} is an encrypted PDF: remove its password and upload it again")
        count = len(reader.pages)
        if count > max_pages:
            raise DocumentError(
                f"{name} has {count:,} pages, over the {max_pages:,}-page limit: split it into parts"
            )
        texts = [page.extract_text() or "" for page in reader.pages]
    except DocumentError:
        raise
    except LimitReachedError as exc:
        raise DocumentError(f"{name} unpacks to more data than a PDF may hold here (a PDF bomb?)") from exc
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on damaged files; each means the same
        raise DocumentError(f"{name} is not a readable PDF: it is damaged, truncated or not a PDF") from exc
    return "\n\n".join(t.strip() for t in texts if t.strip()), count


def _opens_without_password(reader: PdfReader) -> bool:
    # Many PDFs carry only an owner password (no printing, no copying) and open in any viewer: the empty
    # user password decrypts them. AES needs `cryptography`, which pypdf[crypto] brings.
    from pypdf import PasswordType

    return reader.decrypt("") != PasswordType.NOT_DECRYPTED


def _docx_html(name: str, data: bytes) -> str:
    """A DOCX as HTML (headings, lists, tables, links), read by mammoth from memory."""
    import mammoth

    unreadable = f"{name} is not a readable DOCX file: it is damaged, or another format renamed .docx"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            xml = sum(i.file_size for i in archive.infolist() if i.filename.endswith((".xml", ".rels")))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise DocumentError(unreadable) from exc
    if xml > MAX_DOCX_XML_BYTES:
        raise DocumentError(
            f"{name} unpacks to {xml / 1e6:,.0f} MB of XML, over the {MAX_DOCX_XML_BYTES / 1e6:g} MB limit"
        )
    # Images are never opened: the converter returns only the alt text as an <img> without a source.
    alt_only = mammoth.images.img_element(lambda image: {"alt": image.alt_text or ""})
    try:
        result = mammoth.convert_to_html(io.BytesIO(data), convert_image=alt_only, external_file_access=False)
    except Exception as exc:  # noqa: BLE001 - a zip without a Word body fails in many ways inside mammoth
        raise DocumentError(unreadable) from exc
    return result.value


def _html_to_markdown(html: str) -> str:
    """Markdown from HTML: scripts, styles and embedded objects dropped, images reduced to their alt text."""
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_HTML_DROPPED):
        tag.decompose()
    for image in soup.find_all("img"):
        image.replace_with(image.get("alt") or "")
    converter = MarkdownConverter(heading_style="ATX", bullets="-", strip_document="strip")
    return converter.convert_soup(soup)
