"""Image transformations (`/render/image/...`): the parameters as storage-api takes them, and
the transformation itself with Pillow, bytes in, bytes out. No I/O, no HTTP.

`width`/`height` in pixels (one alone keeps the aspect ratio), `resize` cover (fill the box,
crop what sticks out; the default), contain (fit inside the box) or fill (stretch to the box),
`format` origin (the source's format) or webp/jpeg/png/avif, `quality` 20-100 for lossy output.
Without `format` the output is WebP when the request's Accept names image/webp, else the
source's format (Supabase's automatic optimisation, WebP only). Sources are JPEG, PNG and WebP
(and AVIF where Pillow has libavif); other types are served as they are.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, features

from performer_edge.storage import errors

# Pillow encodes AVIF only when built with libavif (its wheels are, from 11.3): check.
AVIF = bool(features.check("avif"))
RASTER_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
OUTPUT_FORMATS = {"webp": "WEBP", "jpeg": "JPEG", "jpg": "JPEG", "png": "PNG"}
MIME_OF = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "AVIF": "image/avif"}
if AVIF:
    RASTER_TYPES["image/avif"] = "AVIF"
    OUTPUT_FORMATS["avif"] = "AVIF"
LOSSY = ("JPEG", "WEBP", "AVIF")
# libavif's effort (0 slowest .. 10 fastest): 8 encodes an 800 px image about 3x as fast as
# Pillow's default 6, for a slightly larger file; a first render is waited for by its client.
AVIF_SPEED = 8
RESIZE_MODES = ("cover", "contain", "fill")
MAX_DIMENSION = 2500  # storage-api's (imgproxy's) limit on width and height
MAX_SOURCE_PIXELS = 50_000_000  # larger sources are refused, not decoded (decompression bombs)
MAX_SOURCE_BYTES = 25 * 1024 * 1024  # Supabase transforms images up to 25 MB
DEFAULT_QUALITY = 80


@dataclass(frozen=True)
class Transform:
    width: int | None = None
    height: int | None = None
    resize: str = "cover"
    format: str | None = None  # None: not asked, chosen per request by its Accept header
    quality: int = DEFAULT_QUALITY

    def key(self, target: str) -> str:
        """A short digest naming this transformation, written in Pillow format `target` (the
        output format chosen for the request), in the cache."""
        text = f"{self.width}x{self.height}:{self.resize}:{target}:{self.quality}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_query(self) -> dict[str, str]:
        """The query parameters (or signed-token claims) that say this transformation."""
        query = {"resize": self.resize, "quality": str(self.quality)}
        if self.format is not None:
            query["format"] = self.format
        if self.width is not None:
            query["width"] = str(self.width)
        if self.height is not None:
            query["height"] = str(self.height)
        return query


def _dimension(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 0 < int(text) <= MAX_DIMENSION:
        raise errors.invalid_request(f"{name} must be a whole number from 1 to {MAX_DIMENSION}")
    return int(text)


def parse_transform(params: Mapping[str, Any]) -> Transform:
    """The transformation a query string (or a signed URL's `transform` options) asks for."""
    resize = str(params.get("resize") or "cover").strip().lower()
    if resize not in RESIZE_MODES:
        raise errors.invalid_request("resize must be cover, contain or fill")
    output = str(params.get("format") or "").strip().lower() or None
    if output == "avif" and not AVIF:
        raise errors.invalid_request("format avif is not available: Pillow lacks libavif here")
    if output is not None and output != "origin" and output not in OUTPUT_FORMATS:
        raise errors.invalid_request(f"format must be origin, {', '.join(OUTPUT_FORMATS)}")
    quality_raw = params.get("quality")
    quality = DEFAULT_QUALITY
    if quality_raw not in (None, ""):
        text = str(quality_raw).strip()
        if isinstance(quality_raw, bool) or not text.isdigit() or not 20 <= int(text) <= 100:
            raise errors.invalid_request("quality must be a whole number from 20 to 100")
        quality = int(text)
    return Transform(
        width=_dimension(params.get("width"), "width"),
        height=_dimension(params.get("height"), "height"),
        resize=resize,
        format=output,
        quality=quality,
    )


def accepts(accept: str | None, mimetype: str) -> bool:
    """Does an Accept header name `mimetype` itself with q > 0? Wildcards do not count: a
    client's `*/*` says nothing of which image formats it decodes (imgproxy reads it so too)."""
    for media_range in (accept or "").split(","):
        kind, *params = (part.strip() for part in media_range.split(";"))
        if kind.lower() != mimetype:
            continue
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


def output_format(transform: Transform, mimetype: str, accept: str | None) -> str:
    """The Pillow format the result is written in: the asked format, else WebP for a client
    that accepts it (Supabase's automatic optimisation; AVIF only when asked, as there), else
    the source's."""
    if transform.format is None:
        return "WEBP" if accepts(accept, "image/webp") else RASTER_TYPES[mimetype]
    if transform.format == "origin":
        return RASTER_TYPES[mimetype]
    return OUTPUT_FORMATS[transform.format]


def transform_image(source: bytes, mimetype: str, transform: Transform, target: str) -> bytes:
    """The transformed image in Pillow format `target`; InvalidRequest for bytes that are not
    a usable image."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            opened = Image.open(io.BytesIO(source), formats=[RASTER_TYPES[mimetype]])
            if opened.width * opened.height > MAX_SOURCE_PIXELS:
                raise errors.invalid_request("the image is too large to transform")
            image = ImageOps.exif_transpose(opened)
            image.load()
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise errors.invalid_request(f"the object is not a valid image: {exc}") from None
        except Image.DecompressionBombWarning:
            raise errors.invalid_request("the image is too large to transform") from None
    image = _resized(image, transform)
    if target == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    options: dict[str, Any] = {"optimize": True} if target == "PNG" else {}
    if target in LOSSY:
        options["quality"] = transform.quality
    if target == "AVIF":
        options["speed"] = AVIF_SPEED
    image.save(out, format=target, **options)
    return out.getvalue()


def _resized(image: Image.Image, transform: Transform) -> Image.Image:
    width, height = transform.width, transform.height
    if width is None and height is None:
        return image
    if width is None or height is None:  # one side given: keep the aspect ratio
        ratio = (width or 0) / image.width if width else (height or 0) / image.height
        size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
        return image.resize(size, Image.Resampling.LANCZOS)
    if transform.resize == "fill":
        return image.resize((width, height), Image.Resampling.LANCZOS)
    if transform.resize == "contain":
        return ImageOps.contain(image, (width, height), Image.Resampling.LANCZOS)
    return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
