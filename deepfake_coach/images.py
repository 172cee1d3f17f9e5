"""Opening pictures: every command that reads a picture's pixels opens it here.

`data organize`, `data check`, training, `evaluate`, `predict`, `deploy`'s check and the service all go
through `open_picture`, so each gets the same pixel limit, the same reduced decoding and the same plain
words when a file cannot be used:

- One pixel limit, `MAX_PIXELS`, checked from the picture's header before anything is decoded. Pillow's
  own check (a DecompressionBombWarning from 89 megapixels, an error from 179) is switched off when this
  module first opens a picture: it would print Pillow's words, and refuse pictures people do have.
- Reduced decoding: a caller says the shorter side it needs, and a larger picture is made smaller as it is
  decoded. A JPEG is decoded at 1/2, 1/4 or 1/8 scale (Pillow's draft mode: libjpeg never makes the full
  pixels), any other format is decoded and at once reduced by a whole factor (Image.reduce, averaging
  blocks of pixels), so only one full-size copy ever exists, never the three or four that turning it
  upright, converting it to RGB and resizing it would make.
- A decode that takes more than `LARGE_DECODE_BYTES` runs one at a time in the process (training decodes
  on every core at once), so a folder of huge pictures cannot multiply the peak.
- `UnreadablePicture` says why a file cannot be used, in a beginner's words: permission denied (the file
  exists, dfcoach may not read it), damaged or not a picture, too large (W x H), empty.

Measured with `python benchmarks/decode_memory.py` (12,000 x 12,000 pixels, 144 megapixels, decoded for
training at 64 px, each in a fresh process): an RGB PNG took 1,652 MB before this module and 553 MB with
it, a greyscale PNG 828 MB and 141 MB, a JPEG 30 MB and 13 MB.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from deepfake_coach.errors import DataError

# The largest picture dfcoach reads: 150 megapixels. That is more than any phone's usual photo (12 to
# 50 megapixels, 108 in some phones' high-resolution modes) and than medium-format cameras (100 to 150);
# a 144-megapixel picture must work. A JPEG is decoded at 1/8 scale (2 to 3 megapixels) whatever its size;
# any other format has to be decoded in full once, 4 bytes a pixel in colour: 600 MB at this limit, one
# such decode at a time. The service's burst of 20 uploads at the limit (benchmarks/serve_load.py)
# then peaks at 1.3 GB, with room under its 1.5 GB target; at 200 megapixels (800 MB as a PNG, the
# size of a few phones' highest-resolution mode) it peaked at 1.51 GB, 22 MB from the target, so those
# photos are refused with the advice to resize. Beyond the limit are also stitched panoramas, scans,
# and decompression bombs (a few hundred bytes that claim billions of pixels): refused from the
# header, before anything is decoded.
MAX_PIXELS = 150_000_000
# Pixels of one decode above which decodes run one at a time: 32 megapixels in colour decoded in full,
# such as a phone photo saved as PNG. Smaller ones (every JPEG, after draft decoding) run side by side.
LARGE_DECODE_BYTES = 128 * 1024 * 1024
_LARGE_DECODES = threading.Lock()

# Kinds of problem, for callers that answer differently (the service's HTTP status, data check's advice)
EMPTY = "empty"
DAMAGED = "damaged"
TOO_LARGE = "too_large"
PERMISSION = "permission"
MISSING = "missing"
UNREADABLE = "unreadable"  # the file system refused for another reason (a folder, an I/O error)
UNSUPPORTED = "unsupported"  # a picture, in a format the caller does not take
OUT_OF_MEMORY = "out_of_memory"

PERMISSION_REASON = "permission denied: dfcoach may not read this file (check its permissions)"


def megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.0f}" if pixels >= 10_000_000 else f"{pixels / 1e6:.1f}"


class UnreadablePicture(DataError):
    """A file or upload dfcoach cannot use as a picture. `reason` is a few plain words for lists
    ("FILE: reason"); `kind` is one of this module's kinds; the message names the file when known."""

    def __init__(self, kind: str, reason: str, name: str | None = None, hint: str | None = None):
        subject = name or "This picture"
        super().__init__(f"{subject} cannot be used: {reason}.", hint=hint or _hint(kind, name))
        self.kind, self.reason = kind, reason


def _hint(kind: str, name: str | None) -> str | None:
    shown = name or "the file"
    if kind == PERMISSION:
        return (f"See who may read it with `ls -l {shown}`; let everyone read it with `chmod a+r {shown}` "
                "(put sudo in front if the file belongs to another user).")
    if kind == TOO_LARGE:
        return (f"Make it smaller first (any photo editor can resize it; a face needs far fewer pixels): "
                f"dfcoach reads pictures up to {megapixels(MAX_PIXELS)} megapixels.")
    if kind == OUT_OF_MEMORY:
        return "Close other programs and try again, or make the picture smaller first."
    if kind in (EMPTY, DAMAGED):
        return ("Open it in an image viewer: if it does not show, copy or download it again; "
                "if it does, save it again as JPEG or PNG.")
    return None


def too_large_reason(width: int, height: int) -> str:
    return f"too large ({width:,} x {height:,} pixels: more than the {megapixels(MAX_PIXELS)} megapixels dfcoach reads)"


@dataclass(frozen=True)
class Header:
    """What a picture's header says, read without decoding any pixels."""

    format: str | None
    width: int
    height: int
    mode: str

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass
class Picture:
    """An opened picture: `image`, decoded (reduced when the caller asked for less), and the header it
    came from (the size stored in the file, before any reduction). Use it in a `with` block."""

    image: object  # PIL.Image.Image
    header: Header

    def __enter__(self) -> "Picture":
        return self

    def __exit__(self, *exc) -> None:
        self.image.close()


Source = Path | str | bytes | BinaryIO


def _pil():
    """Pillow, with its own pixel limit switched off: this module checks `MAX_PIXELS` from the header
    of every picture dfcoach opens, and says so in dfcoach's words."""
    from PIL import Image

    if Image.MAX_IMAGE_PIXELS is not None:
        Image.MAX_IMAGE_PIXELS = None
    return Image


def _name(source: Source) -> str | None:
    return str(source) if isinstance(source, (str, os.PathLike)) else None


def os_error_problem(error: OSError, name: str | None, fmt: str | None = None) -> UnreadablePicture:
    """The real cause of an OSError met while opening or decoding: the file system's, or the picture's."""
    if isinstance(error, PermissionError):
        return UnreadablePicture(PERMISSION, PERMISSION_REASON, name)
    if isinstance(error, FileNotFoundError):
        return UnreadablePicture(MISSING, "does not exist", name, hint="Check the path for typos.")
    if isinstance(error, IsADirectoryError):
        return UnreadablePicture(UNREADABLE, "a folder, not a picture file", name)
    if error.errno is not None:  # the file system refused (an I/O error, a vanished network drive)
        return UnreadablePicture(UNREADABLE, f"cannot be read ({error.strerror or error})", name,
                                 hint=f"Check {name or 'the file'} and the disk it is on, then try again.")
    return _damaged(name, fmt)


def _damaged(name: str | None, fmt: str | None = None, started: bool = True) -> UnreadablePicture:
    """Damaged or not a picture: `started` when the data began like a picture (Pillow read some of it)."""
    if not started:
        detail = "its content is no picture format dfcoach knows: JPEG, PNG, WebP, BMP, TIFF"
    elif fmt:
        detail = f"it starts like a {fmt} picture, but its data is cut short or corrupted"
    else:
        detail = "it starts like a picture, but its data is cut short or corrupted"
    return UnreadablePicture(DAMAGED, f"damaged or not a picture ({detail})", name)


def _open(source: Source):
    """(the opened PIL image, the file object dfcoach opened or None): header read, nothing decoded."""
    Image = _pil()
    name = _name(source)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise UnreadablePicture(EMPTY, "empty file (0 bytes)")
        source = io.BytesIO(source)
    try:
        if name is not None and os.stat(source).st_size == 0:
            raise UnreadablePicture(EMPTY, "empty file (0 bytes)", name)
        return Image.open(source)
    except UnreadablePicture:
        raise
    except Image.UnidentifiedImageError:
        raise _damaged(name, started=False) from None
    except Image.DecompressionBombError:  # only if something set Pillow's limit again
        raise UnreadablePicture(TOO_LARGE, f"too large (over {megapixels(MAX_PIXELS)} megapixels)", name) from None
    except OSError as error:
        raise os_error_problem(error, name) from None
    except (SyntaxError, ValueError, EOFError, IndexError, TypeError) as error:  # a header Pillow cannot parse
        raise _damaged(name) from error


def read_header(source: Source) -> Header:
    """The format and size stored in a picture's header (nothing decoded, no size limit applied)."""
    image = _open(source)
    try:
        return Header(image.format, image.width, image.height, image.mode)
    finally:
        image.close()


def check_size(header: Header, name: str | None = None) -> None:
    """`UnreadablePicture` (too large) for a picture over `MAX_PIXELS`."""
    if header.pixels > MAX_PIXELS:
        raise UnreadablePicture(TOO_LARGE, too_large_reason(header.width, header.height), name)


def _bytes_per_pixel(mode: str) -> int:
    """What Pillow stores per pixel in memory: 1 for L/P/1, 2 for 16-bit, else 4 (RGB is padded to 4)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def _draft_scale(header: Header, shorter_side: int | None) -> int:
    """The scale libjpeg decodes a JPEG at for `shorter_side` (as Pillow's draft chooses it); 1 otherwise."""
    if not shorter_side or header.format not in ("JPEG", "MPO"):
        return 1
    scale = min(header.width // shorter_side, header.height // shorter_side)
    return next((s for s in (8, 4, 2) if scale >= s), 1)


def decode_bytes(header: Header, shorter_side: int | None = None) -> int:
    """The memory the decode of this picture takes at its peak: its pixels as decoded (reducing it
    afterwards adds only a strip of rows and the small result)."""
    scale = _draft_scale(header, shorter_side)
    return -(-header.width // scale) * -(-header.height // scale) * _bytes_per_pixel(header.mode)


def open_picture(source: Source, shorter_side: int | None = None, *, draft_mode: str = "RGB",
                 formats: set[str] | frozenset[str] | None = None) -> Picture:
    """The picture decoded, or `UnreadablePicture` saying in plain words why not.

    With `shorter_side`, a larger picture is reduced as it is decoded to a shorter side between
    `shorter_side` and twice that (JPEG: up to 8 times that, then reduced): never enlarged, its EXIF
    orientation kept (callers turn it upright). `draft_mode` "L" decodes only a JPEG's brightness.
    With `formats` (Pillow's names), a picture in another format is refused before it is decoded."""
    name = _name(source)
    image = _open(source)
    try:
        header = Header(image.format, image.width, image.height, image.mode)
        check_size(header, name)
        if formats is not None and header.format not in formats:
            raise UnreadablePicture(UNSUPPORTED, f"{header.format or 'this kind of'} pictures are not supported", name)
        if decode_bytes(header, shorter_side) > LARGE_DECODE_BYTES:
            with _LARGE_DECODES:
                decoded = _decode(image, header, shorter_side, draft_mode)
        else:
            decoded = _decode(image, header, shorter_side, draft_mode)
    except UnreadablePicture:
        image.close()
        raise
    except OSError as error:
        image.close()
        raise os_error_problem(error, name, image.format) from None
    except (SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error, zlib.error) as error:
        image.close()
        raise _damaged(name, image.format) from error
    except MemoryError:
        image.close()
        raise UnreadablePicture(OUT_OF_MEMORY, f"not enough free memory to decode it ({image.width:,} x {image.height:,} pixels)", name) from None
    if decoded is not image:
        image.close()
    return Picture(decoded, header)


def _decode(image, header: Header, shorter_side: int | None, draft_mode: str):
    if shorter_side:
        image.draft(draft_mode, (shorter_side, shorter_side))  # JPEG only; other formats ignore it
    image.load()
    if not shorter_side:
        return image
    small = shrunk(image, shorter_side)
    small.format = header.format
    return small


STRIP_ROWS = 256  # rows converted at a time when a picture must change mode to be reduced


def shrunk(picture, side: int):
    """`picture` reduced by a whole factor (averaging blocks of pixels) to a shorter side between `side`
    and 2 x `side`; its EXIF orientation kept, so it can still be turned upright afterwards.

    L and RGB pictures are reduced as they are. Any other mode (alpha, a palette, CMYK, 16-bit) becomes
    L or RGB, as every use of the pixels makes it anyway, a strip of rows at a time: the strips line up
    with the blocks averaged, so the result is the same as converting the whole picture first, without
    ever holding a full-size converted copy (a 150-megapixel palette PNG stays at 150 MB, not 750)."""
    Image = _pil()
    factor = min(picture.size) // side
    if factor < 2:
        return picture
    orientation = _orientation(picture)
    if picture.mode in ("L", "RGB"):
        small = picture.reduce(factor)
    else:
        target = "L" if picture.mode in ("1", "LA") else "RGB"
        width, height = picture.size
        small = Image.new(target, (-(-width // factor), -(-height // factor)))
        rows = factor * max(1, STRIP_ROWS // factor)
        for top in range(0, height, rows):
            strip = picture.crop((0, top, width, min(top + rows, height)))
            if strip.mode in ("P", "PA"):  # a palette's colours go through RGBA, as Pillow asks with transparency
                strip = strip.convert("RGBA")
            small.paste(strip.convert(target).reduce(factor), (0, top // factor))
    for key in ("exif", "xmp", "XML:com.adobe.xmp"):
        small.info.pop(key, None)
    if orientation not in (None, 1):
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        small.info["exif"] = exif.tobytes()
    return small


ORIENTATION = 0x0112  # the EXIF tag that says how to turn the picture to show it upright


def _orientation(picture) -> int | None:
    """The picture's EXIF orientation, however its format stores it (EXIF, XMP, TIFF tags)."""
    try:
        return picture.getexif().get(ORIENTATION)
    except Exception:  # a damaged EXIF block: shown as stored, as exif_transpose would
        return None
