"""Photo uploads: checked by content (Pillow), size-limited, re-encoded without metadata."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from participation.core.errors import PayloadTooLarge, ValidationFailed

Image.MAX_IMAGE_PIXELS = 40_000_000

FORMATS = {"JPEG": ("image/jpeg", {".jpg", ".jpeg"}), "PNG": ("image/png", {".png"}), "WEBP": ("image/webp", {".webp"})}


@dataclass
class CheckedImage:
    original_name: str
    format: str
    content_type: str
    data: bytes
    width: int
    height: int


def check_image(name: str, stream, field: str = "photos") -> CheckedImage:
    """Read an upload and make sure it is a JPEG, PNG or WebP image whose name matches its content."""
    limit = current_app.config["UPLOAD_MAX_BYTES"]
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(
            _("Each photo may be at most %(mb)s MB.", mb=limit // (1024 * 1024)),
            fields={field: [_("%(name)s is too large.", name=name)]},
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(raw))
            probe.verify()
            image = Image.open(io.BytesIO(raw))
            image.load()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise ValidationFailed(fields={field: [_("%(name)s is not a JPEG, PNG or WebP image.", name=name)]}) from None
    if image.format not in FORMATS:
        raise ValidationFailed(fields={field: [_("%(name)s is not a JPEG, PNG or WebP image.", name=name)]})
    content_type, extensions = FORMATS[image.format]
    if Path(name).suffix.lower() not in extensions:
        raise ValidationFailed(fields={field: [_("The content of %(name)s does not match its name.", name=name)]})

    image = ImageOps.exif_transpose(image)
    out = io.BytesIO()
    if image.format == "JPEG" or image.mode not in ("RGB", "RGBA", "L", "P"):
        image = image.convert("RGB")
    save_format = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP"}[probe.format]
    image.save(out, format=save_format)  # re-encoding drops EXIF, including GPS position
    return CheckedImage(
        original_name=Path(name).name[:200],
        format=save_format,
        content_type=content_type,
        data=out.getvalue(),
        width=image.width,
        height=image.height,
    )


def store(image: CheckedImage) -> tuple[str, str, str]:
    """Write the image to the upload folder; return (stored name, full path, sha256)."""
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{uuid.uuid4().hex}.{image.format.lower().replace('jpeg', 'jpg')}"
    path = folder / stored
    path.write_bytes(image.data)
    return stored, str(path), hashlib.sha256(image.data).hexdigest()


def keep(image: CheckedImage) -> tuple[dict, str]:
    """Store the image for the current transaction (removed again if it rolls back): the stored photo's
    column values (see `models.StoredPhoto`) and the file's path."""
    from participation.core.uow import on_rollback

    stored, path, digest = store(image)
    on_rollback(remove, path)
    values = {
        "stored_name": stored,
        "original_name": image.original_name,
        "content_type": image.content_type,
        "size": len(image.data),
        "width": image.width,
        "height": image.height,
        "sha256": digest,
    }
    return values, path


def remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def path_of(stored_name: str) -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / stored_name
