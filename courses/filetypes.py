"""What an uploaded file really is, read from its bytes, and whether it fits the item it is for.

The name and the browser's Content-Type of an upload say nothing reliable, so every upload is
identified from its first bytes (`HEAD_BYTES`), checked as it streams, and checked once more at its
end (a cut-off PDF, PNG or MP4 is refused). Only formats that browsers play or show natively are
accepted, each for the item kinds it can serve:

    video     MP4 / M4V, WebM (with a video track), Ogg Theora, QuickTime (.mov)
    audio     MP3, M4A / MP4 audio, AAC (ADTS), Ogg Vorbis / Opus / FLAC, WAV (PCM), WebM audio, FLAC
    pdf       PDF
    image     PNG, JPEG, GIF, WebP (never SVG: it can carry script)
    captions  WebVTT (UTF-8 text that starts with "WEBVTT")

Why not a sniffing library: `filetype` and `puremagic` were both measured against real files of
each format. Neither tells WebM or Ogg audio from video, both take the four bytes "\\x89PNG" for a
PNG, and `filetype` takes "ID3" followed by a shell script for an MP3. Each check below reads the
structure past the magic number (box and chunk sizes, header fields, checksums where the format
has them) so a renamed or truncated file is refused with a reason.
"""

from __future__ import annotations

import codecs
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import Mapping

from flask_babel import gettext, lazy_gettext

# Enough for every header checked here: WebM track lists and MP3 ID3 frames sit well inside it.
HEAD_BYTES = 64 * 1024
# The PDF end marker must sit in the last 1024 bytes (PDF 1.7, 7.5.5); PNG's IEND is the last chunk.
TAIL_BYTES = 1024

# What a teacher is asked for, per item kind (lazy: shown in the reader's language).
KINDS: Mapping[str, str] = {
    "video": lazy_gettext("a video (MP4, WebM, Ogg or QuickTime)"),
    "audio": lazy_gettext("an audio file (MP3, M4A/AAC, Ogg/Opus, WAV, WebM or FLAC)"),
    "pdf": lazy_gettext("a PDF document"),
    "image": lazy_gettext("an image (PNG, JPEG, GIF or WebP)"),
    "captions": lazy_gettext("a WebVTT caption file (.vtt)"),
}


class FileRejected(ValueError):
    """The upload cannot be stored for this kind. `reason` is "empty", "type" or "damaged"."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Format:
    """One identified format: how to name it, and the content type it is stored as, per kind."""

    label: str
    accepts: Mapping[str, str] = field(default_factory=dict)
    # Bytes the header says the file has at least; a shorter upload was cut off.
    min_size: int = 0
    # Must appear in the last TAIL_BYTES, or the file was cut off.
    tail_marker: bytes = b""
    # Every byte must decode as UTF-8 (text formats).
    utf8: bool = False


class Damaged(Exception):
    """The magic number matches a format but the structure after it does not."""

    def __init__(self, label: str, detail: str, kinds: frozenset[str] = frozenset()) -> None:
        super().__init__(f"{label}: {detail}")
        self.label = label
        self.detail = detail
        self.kinds = kinds


def _display(filename: str) -> str:
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    if not name:
        return "This file"
    return "“" + (name if len(name) <= 80 else name[:77] + "…") + "”"


class UploadCheck:
    """Checks one upload while it streams: `start(head)`, `feed(chunk)` for the rest, `finish(total)`.

    Each step raises FileRejected with a message a teacher can act on.
    """

    def __init__(self, kind: str, filename: str) -> None:
        if kind not in KINDS:
            raise FileRejected(
                gettext(
                    "Media of kind %(kind)s cannot be uploaded; choose one of: %(KINDS)s.",
                    kind=repr(kind),
                    KINDS=', '.join(KINDS),
                ), "type"
            )
        self.kind = kind
        self.name = _display(filename)
        self.format: Format | None = None
        self._tail = b""
        self._decoder: codecs.IncrementalDecoder | None = None

    def start(self, head: bytes, *, complete: bool) -> str:
        """Identify the file from its first bytes; returns the content type it will be stored as.

        `complete` says whether `head` is the whole file (so a header cut short is damage).
        """
        if not head:
            raise FileRejected(
                gettext(
                    "%(name)s is empty (0 bytes). Choose the file again; if it is empty on your computer "
                    "too, export or download it again.",
                    name=self.name,
                ),
                "empty",
            )
        try:
            found = identify(head, complete=complete)
        except Damaged as damaged:
            if self.kind not in damaged.kinds:
                raise FileRejected(
                    gettext(
                        "%(name)s is %(label)s, not %(kind)s.",
                        name=self.name,
                        label=damaged.label,
                        kind=KINDS[self.kind],
                    ), "type"
                ) from None
            raise self._damaged(damaged.label, damaged.detail) from None
        if found is None:
            raise FileRejected(
                gettext(
                    "%(name)s is not %(kind)s: its contents match none of the formats accepted here, "
                    "whatever its name says.",
                    name=self.name,
                    kind=KINDS[self.kind],
                ),
                "type",
            )
        content_type = found.accepts.get(self.kind)
        if content_type is None:
            raise FileRejected(gettext(
                "%(name)s is %(label)s, not %(kind)s.",
                name=self.name,
                label=found.label,
                kind=KINDS[self.kind],
            ), "type")
        self.format = found
        if found.utf8:
            self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.feed(head)
        return content_type

    def feed(self, chunk: bytes) -> None:
        if self._decoder is not None:
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError:
                raise self._damaged(self.format.label, "it contains bytes that are not UTF-8 text") from None
        self._tail = (self._tail + chunk[-TAIL_BYTES:])[-TAIL_BYTES:]

    def finish(self, total: int) -> None:
        found = self.format
        assert found is not None, "start() first"
        if self._decoder is not None:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise self._damaged(found.label, "it ends in the middle of a character") from None
        if total < found.min_size:
            raise self._damaged(
                found.label, f"it ends early ({total} of the {found.min_size} bytes its header announces)"
            )
        if found.tail_marker and found.tail_marker not in self._tail:
            raise self._damaged(found.label, "its end is missing")

    def _damaged(self, label: str, detail: str) -> FileRejected:
        return FileRejected(
            gettext(
                "%(name)s looks like %(label)s, but %(detail)s. The file may be damaged or only partly "
                "copied: export or download it again and upload the new copy.",
                name=self.name,
                label=label,
                detail=detail,
            ),
            "damaged",
        )


def identify(head: bytes, *, complete: bool) -> Format | None:
    """The format of a file from its first bytes, or None when it is nothing recognised.

    Raises Damaged when a known magic number is followed by a broken or cut-off structure.
    Formats no kind accepts (ZIP, HTML, SVG, scripts, ...) come back with empty `accepts`, so the
    refusal can say what the file is.
    """
    for probe in _PROBES:
        found = probe(head, complete)
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------------------------------------
# Helpers


def _need(head: bytes, size: int, complete: bool, label: str, kinds: frozenset[str]) -> bool:
    """True when `head` holds `size` bytes; Damaged when the whole file is shorter than that."""
    if len(head) >= size:
        return True
    if complete:
        raise Damaged(label, "it ends inside its header", kinds)
    return False


_VIDEO = frozenset({"video"})
_AUDIO = frozenset({"audio"})
_AV = frozenset({"video", "audio"})
_IMAGE = frozenset({"image"})


# ---------------------------------------------------------------------------------------------
# ISO base media (MP4, M4A, M4V, QuickTime) and the image formats that share its box structure

_MP4_GENERIC = {
    b"isom",
    b"iso2",
    b"iso3",
    b"iso4",
    b"iso5",
    b"iso6",
    b"iso7",
    b"iso8",
    b"iso9",
    b"mp41",
    b"mp42",
    b"mp71",
    b"avc1",
    b"dash",
    b"MSNV",
    b"NDAS",
    b"mmp4",
    b"XAVC",
}
_MP4_AUDIO = {b"M4A ", b"M4B ", b"M4P "}
_MP4_VIDEO = {b"M4V ", b"M4VH", b"M4VP"}
_HEIF = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF = {b"avif", b"avis"}
_3GP = re.compile(rb"3g[2p][0-9a-z]")


def _box_type_ok(kind: bytes) -> bool:
    return all(0x20 <= b <= 0x7E for b in kind)


def _iso_media(head: bytes, complete: bool) -> Format | None:
    if len(head) < 8 or head[4:8] != b"ftyp":
        return None
    ftyp_size = struct.unpack(">I", head[:4])[0]
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, min(ftyp_size, len(head)) - 3, 4)}
    if major in _HEIF or (major not in _AVIF and brands & _HEIF and not brands & _MP4_GENERIC):
        return Format("a HEIC photo (save it as JPEG or PNG)")
    if major in _AVIF or brands & _AVIF:
        return Format("an AVIF image (save it as PNG, JPEG or WebP)")
    if _3GP.fullmatch(major):
        return Format("a 3GP phone video (convert it to MP4)")
    if major in _MP4_AUDIO:
        label, accepts = "an M4A audio file", {"audio": "audio/mp4"}
    elif major in _MP4_VIDEO:
        label, accepts = "an M4V video", {"video": "video/mp4"}
    elif major == b"qt  ":
        label, accepts = "a QuickTime movie", {"video": "video/quicktime"}
    elif major in _MP4_GENERIC or brands & _MP4_GENERIC:
        # The brand does not say audio or video (that is in the track list, often at the end of
        # the file), and browsers play either from an MP4 container.
        label, accepts = "an MP4 video", {"video": "video/mp4", "audio": "audio/mp4"}
    else:
        return Format("an MPEG-4 family file of a kind browsers do not play")
    kinds = frozenset(accepts)
    if not _need(head, 16, complete, label, kinds):
        return Format(label, accepts)
    if ftyp_size < 16 or ftyp_size > 4096 or ftyp_size % 4:
        raise Damaged(label, "its file-type header has an impossible size", kinds)
    # Walk the top-level boxes we can see: each has a size and a printable four-letter type.
    offset, boxes = 0, 0
    while offset + 8 <= len(head):
        size, kind = struct.unpack(">I4s", head[offset : offset + 8])
        if not _box_type_ok(kind):
            raise Damaged(label, "its structure is broken after the first bytes", kinds)
        if size == 1:
            if offset + 16 > len(head):
                break
            size = struct.unpack(">Q", head[offset + 8 : offset + 16])[0]
            if size < 16:
                raise Damaged(label, "its structure is broken after the first bytes", kinds)
        elif size == 0:  # the last box runs to the end of the file
            boxes += 1
            offset = -1
            break
        elif size < 8:
            raise Damaged(label, "its structure is broken after the first bytes", kinds)
        boxes += 1
        offset += size
    if complete and boxes < 2:
        raise Damaged(label, "it holds no media after its header", kinds)
    if complete and offset > len(head):
        raise Damaged(label, f"it ends early ({len(head)} of the {offset} bytes its header announces)", kinds)
    if complete and 0 <= offset < len(head):
        raise Damaged(label, "it ends in the middle of its structure", kinds)
    return Format(label, accepts, min_size=max(offset, 0))


# ---------------------------------------------------------------------------------------------
# EBML: WebM and Matroska

_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_SEGMENT, _TRACKS, _TRACK_ENTRY, _TRACK_TYPE, _CODEC_ID = 0x18538067, 0x1654AE6B, 0xAE, 0x83, 0x86
_CLUSTER, _DOCTYPE = 0x1F43B675, 0x4282


class _Short(Exception):
    """The element runs past the bytes we have."""


def _vint(data: bytes, offset: int, keep_marker: bool) -> tuple[int, int, bool]:
    """An EBML variable-length integer: (value, new offset, all value bits set = unknown size)."""
    if offset >= len(data):
        raise _Short
    first = data[offset]
    if first == 0:
        raise ValueError("invalid variable-length integer")
    length = 8 - first.bit_length() + 1
    if offset + length > len(data):
        raise _Short
    value = first if keep_marker else first & (0xFF >> length)
    for b in data[offset + 1 : offset + length]:
        value = (value << 8) | b
    unknown = not keep_marker and value == (1 << (7 * length)) - 1
    return value, offset + length, unknown


def _ebml_element(data: bytes, offset: int) -> tuple[int, int, int | None]:
    """(id, data offset, data size or None for unknown size)."""
    element_id, offset, _ = _vint(data, offset, keep_marker=True)
    size, offset, unknown = _vint(data, offset, keep_marker=False)
    return element_id, offset, None if unknown else size


def _webm(head: bytes, complete: bool) -> Format | None:
    if not head.startswith(_EBML_MAGIC):
        return None
    label = "a WebM or Matroska file"
    try:
        _, start, size = _ebml_element(head, 0)
        if size is None or start + size > len(head):
            raise _Short
        doctype = b""
        offset = start
        while offset < start + size:
            element_id, data, length = _ebml_element(head, offset)
            if length is None:
                raise ValueError("unknown-size element in the header")
            if element_id == _DOCTYPE:
                doctype = head[data : data + length].rstrip(b"\x00")
            offset = data + length
        if doctype == b"matroska":
            return Format("a Matroska (MKV) video (convert it to MP4 or WebM)")
        if doctype != b"webm":
            raise ValueError("not a WebM document")
        label = "a WebM file"
        segment_id, segment_data, segment_size = _ebml_element(head, offset)
        if segment_id != _SEGMENT:
            raise ValueError("no segment after the header")
        min_size = 0 if segment_size is None else segment_data + segment_size
        video, audio = _webm_tracks(head, segment_data)
    except _Short:
        if complete:
            raise Damaged(label, "it ends inside its header", _AV) from None
        # The track list lies beyond the bytes we read: nothing tells audio from video.
        raise Damaged(label, "its track list is missing from the start of the file", _AV) from None
    except (ValueError, IndexError):
        raise Damaged(label, "its header is broken", _AV) from None
    if video:
        return Format("a WebM video", {"video": "video/webm"}, min_size=min_size)
    if audio:
        return Format("a WebM audio file (it has no picture)", {"audio": "audio/webm"}, min_size=min_size)
    raise Damaged(label, "it has neither a video nor an audio track", _AV)


def _webm_tracks(head: bytes, offset: int) -> tuple[bool, bool]:
    """Walk the segment's children to the track list; (has video, has audio)."""
    while True:
        element_id, data, length = _ebml_element(head, offset)
        if element_id == _CLUSTER or length is None:
            raise ValueError("media data before the track list")
        if element_id == _TRACKS:
            if data + length > len(head):
                raise _Short
            video = audio = False
            entry = data
            while entry < data + length:
                entry_id, entry_data, entry_length = _ebml_element(head, entry)
                if entry_length is None:
                    raise ValueError("unknown-size track entry")
                if entry_id == _TRACK_ENTRY:
                    child = entry_data
                    while child < entry_data + entry_length:
                        child_id, child_data, child_length = _ebml_element(head, child)
                        if child_length is None:
                            raise ValueError("unknown-size track field")
                        if child_id == _TRACK_TYPE:
                            track_type = int.from_bytes(head[child_data : child_data + child_length], "big")
                            video |= track_type == 1
                            audio |= track_type == 2
                        child = child_data + child_length
                entry = entry_data + entry_length
            return video, audio
        offset = data + length


# ---------------------------------------------------------------------------------------------
# Ogg: the first page of every logical stream comes before any data page (RFC 3533, section 4)


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        crc = i << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
        table.append(crc & 0xFFFFFFFF)
    return table


_OGG_CRC = _ogg_crc_table()


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for b in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[((crc >> 24) & 0xFF) ^ b]
    return crc


_OGG_CODECS = {  # first bytes of a stream's first packet -> (what it is, video?)
    b"\x80theora": ("theora", True),
    b"\x01vorbis": ("vorbis", False),
    b"OpusHead": ("opus", False),
    b"\x7fFLAC": ("flac", False),
    b"Speex   ": ("speex", False),
    b"fishead\x00": ("skeleton", None),
    b"OVP80": ("vp8", True),
}


def _ogg(head: bytes, complete: bool) -> Format | None:
    if not head.startswith(b"OggS"):
        return None
    label = "an Ogg file"
    codecs_found: list[tuple[str, bool | None]] = []
    offset = 0
    while True:
        if offset + 27 > len(head):
            break
        if head[offset : offset + 4] != b"OggS" or head[offset + 4] != 0:
            raise Damaged(label, "its pages are broken", _AV)
        header_type = head[offset + 5]
        segments = head[offset + 26]
        if offset + 27 + segments > len(head):
            break
        body_size = sum(head[offset + 27 : offset + 27 + segments])
        end = offset + 27 + segments + body_size
        if end > len(head):
            break
        page = head[offset:end]
        stored_crc = struct.unpack("<I", page[22:26])[0]
        if _ogg_crc(page[:22] + b"\x00\x00\x00\x00" + page[26:]) != stored_crc:
            raise Damaged(label, "a checksum in its first pages does not match", _AV)
        if not header_type & 0x02:  # first page that is not a beginning-of-stream page
            break
        body = page[27 + segments :]
        for magic, codec in _OGG_CODECS.items():
            if body.startswith(magic):
                codecs_found.append(codec)
                break
        else:
            codecs_found.append(("unknown", None))
        offset = end
    if not codecs_found:
        if complete:
            raise Damaged(label, "it ends inside its first page", _AV)
        raise Damaged(label, "its first page is unreadable", _AV)
    names = {name for name, _ in codecs_found}
    if any(is_video for _, is_video in codecs_found):
        if "theora" in names:
            return Format("an Ogg video", {"video": "video/ogg"})
        return Format("an Ogg video in a format browsers do not play (use Theora, or convert it to MP4)")
    if names & {"vorbis", "opus", "flac"}:
        return Format("an Ogg audio file", {"audio": "audio/ogg"})
    return Format("an Ogg file in a format browsers do not play")


# ---------------------------------------------------------------------------------------------
# MPEG audio (MP3), AAC in ADTS frames, FLAC, each possibly behind an ID3v2 tag

_MP3_BITRATES = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1 layer III
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2 layer III
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame(head: bytes, offset: int) -> tuple[int, tuple[int, int]] | None:
    """(frame length, (version, sample-rate index)) of an MPEG audio layer III frame, or None."""
    if offset + 4 > len(head):
        return None
    b0, b1, b2 = head[offset], head[offset + 1], head[offset + 2]
    if b0 != 0xFF or b1 & 0xE0 != 0xE0:
        return None
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_index, rate_index, padding = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _MP3_BITRATES[3 if version == 3 else 2][bitrate_index] * 1000
    rate = _MP3_RATES[version][rate_index]
    length = (144 if version == 3 else 72) * bitrate // rate + padding
    return length, (version, rate_index)


def _adts_frame(head: bytes, offset: int) -> tuple[int, tuple[int, int]] | None:
    if offset + 7 > len(head):
        return None
    b = head[offset : offset + 7]
    if b[0] != 0xFF or b[1] & 0xF6 != 0xF0:  # sync word, layer 0
        return None
    rate_index = (b[2] >> 2) & 0xF
    length = ((b[3] & 3) << 11) | (b[4] << 3) | (b[5] >> 5)
    if rate_index > 12 or length < 7:
        return None
    return length, (rate_index, b[2] >> 6)


def _frames(head: bytes, offset: int, complete: bool, parse) -> bool:
    """Two consecutive frames of the same stream (one random 0xFF byte proves nothing)."""
    first = parse(head, offset)
    if first is None:
        return False
    length, stream = first
    following = offset + length
    if following + 4 > len(head):
        # A one-frame file, or a frame longer than what we read.
        return not complete or following == len(head)
    second = parse(head, following)
    return second is not None and second[1] == stream


def _id3_end(head: bytes, complete: bool) -> int | None:
    """Where audio starts after an ID3v2 tag; None when there is no tag."""
    if not head.startswith(b"ID3"):
        return None
    label = "an MP3 audio file"
    if not _need(head, 10, complete, label, _AUDIO):
        raise Damaged(label, "its tag header is incomplete", _AUDIO)
    major, minor, flags = head[3], head[4], head[5]
    size_bytes = head[6:10]
    if major not in (2, 3, 4) or minor == 0xFF or any(b & 0x80 for b in size_bytes):
        raise Damaged(label, "its ID3 tag header is broken", _AUDIO)
    size = 0
    for b in size_bytes:
        size = (size << 7) | b
    end = 10 + size + (10 if flags & 0x10 else 0)
    # The first frame of the tag must be a frame (an upper-case id) or padding (zeros).
    if not flags & 0x40 and size:
        id_length = 3 if major == 2 else 4
        frame_id = head[10 : 10 + id_length]
        if len(frame_id) == id_length and not (
            re.fullmatch(rb"[A-Z0-9]+", frame_id) or frame_id == b"\x00" * id_length
        ):
            raise Damaged(label, "its ID3 tag is broken", _AUDIO)
    return end


def _mpeg_audio(head: bytes, complete: bool) -> Format | None:
    start = _id3_end(head, complete)
    tagged = start is not None
    offset = start or 0
    if tagged and offset >= len(head) and complete:
        raise Damaged("an MP3 audio file", "it holds a tag but no audio", _AUDIO)
    if tagged and not complete and offset + 8192 > len(head):
        # A large tag (cover art) hides the first frames from us; the tag itself was well-formed.
        return Format("an MP3 audio file", {"audio": "audio/mpeg"})
    if tagged:
        # Some encoders pad between the tag and the first frame.
        while offset < len(head) and offset - start < 4096 and head[offset] == 0:
            offset += 1
        if head[offset : offset + 4] == b"fLaC":
            return _flac(head[offset:], complete)
    if _frames(head, offset, complete, _mp3_frame):
        return Format("an MP3 audio file", {"audio": "audio/mpeg"})
    if _frames(head, offset, complete, _adts_frame):
        return Format("an AAC audio file", {"audio": "audio/aac"})
    if tagged:
        raise Damaged("an MP3 audio file", "no audio frame follows its tag", _AUDIO)
    return None


def _flac(head: bytes, complete: bool) -> Format | None:
    if not head.startswith(b"fLaC"):
        return None
    label = "a FLAC audio file"
    if not _need(head, 42, complete, label, _AUDIO):
        return Format(label, {"audio": "audio/flac"})
    block_type, length = head[4] & 0x7F, int.from_bytes(head[5:8], "big")
    info = head[8:42]
    min_block = struct.unpack(">H", info[0:2])[0]
    rate = int.from_bytes(info[10:13], "big") >> 4
    if block_type != 0 or length != 34 or min_block < 16 or rate == 0:
        raise Damaged(label, "its stream information block is broken", _AUDIO)
    return Format(label, {"audio": "audio/flac"})


# ---------------------------------------------------------------------------------------------
# RIFF: WAV and WebP (and AVI, refused)


def _riff(head: bytes, complete: bool) -> Format | None:
    if not head.startswith(b"RIFF") or len(head) < 12:
        if head.startswith(b"RIFF") and complete:
            raise Damaged("a RIFF file", "it ends inside its header", frozenset())
        return None
    riff_size = struct.unpack("<I", head[4:8])[0]
    form = head[8:12]
    if form == b"WAVE":
        return _wav(head, complete)
    if form == b"WEBP":
        return _webp(head, complete, riff_size)
    if form == b"AVI ":
        return Format("an AVI video (convert it to MP4)")
    return Format("a RIFF file of a kind browsers do not play")


def _wav(head: bytes, complete: bool) -> Format:
    label = "a WAV audio file"
    offset = 12
    while True:
        if offset + 8 > len(head):
            if complete:
                raise Damaged(label, "it has no format description", _AUDIO)
            return Format(label, {"audio": "audio/wav"})
        chunk, size = struct.unpack("<4sI", head[offset : offset + 8])
        if chunk == b"fmt ":
            if size < 16 or not _need(head, offset + 24, complete, label, _AUDIO):
                raise Damaged(label, "its format description is broken", _AUDIO)
            tag, channels, rate = struct.unpack("<HHI", head[offset + 8 : offset + 16])
            if channels == 0 or rate == 0:
                raise Damaged(label, "its format description is broken", _AUDIO)
            if tag not in (1, 3, 0xFFFE):  # PCM, float, extensible: what browsers decode
                return Format(
                    "a WAV file in a compressed format browsers do not play (save it as PCM WAV or MP3)"
                )
            # Recorders often leave the RIFF size unset or wrong; browsers play such files, so
            # a WAV is not held to its announced length.
            return Format(label, {"audio": "audio/wav"})
        if not _box_type_ok(chunk):
            raise Damaged(label, "its structure is broken", _AUDIO)
        offset += 8 + size + (size & 1)


def _webp(head: bytes, complete: bool, riff_size: int) -> Format:
    label = "a WebP image"
    if not _need(head, 30, complete, label, _IMAGE):
        return Format(label, {"image": "image/webp"})
    chunk, size = struct.unpack("<4sI", head[12:20])
    payload = head[20:30]
    ok = (
        (
            chunk == b"VP8 "
            and payload[3:6] == b"\x9d\x01\x2a"
            and struct.unpack("<H", payload[6:8])[0] & 0x3FFF
        )
        or (chunk == b"VP8L" and payload[0] == 0x2F)
        or (chunk == b"VP8X" and size >= 10)
    )
    if not ok or riff_size < 12 + size:
        raise Damaged(label, "its image header is broken", _IMAGE)
    min_size = 8 + riff_size
    if complete and len(head) < min_size:
        raise Damaged(
            label, f"it ends early ({len(head)} of the {min_size} bytes its header announces)", _IMAGE
        )
    return Format(label, {"image": "image/webp"}, min_size=min_size)


# ---------------------------------------------------------------------------------------------
# Still images

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png(head: bytes, complete: bool) -> Format | None:
    if not head.startswith(_PNG_MAGIC[:4]):
        return None
    label = "a PNG image"
    if not _need(head, 33, complete, label, _IMAGE):
        return Format(label, {"image": "image/png"}, tail_marker=b"IEND")
    if head[:8] != _PNG_MAGIC:
        # The signature's line endings were rewritten: a PNG sent through a text-mode transfer.
        raise Damaged(label, "its signature was altered (was it copied as text?)", _IMAGE)
    length, chunk = struct.unpack(">I4s", head[8:16])
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    crc = struct.unpack(">I", head[29:33])[0]
    if (
        length != 13
        or chunk != b"IHDR"
        or zlib.crc32(head[12:29]) != crc
        or not (0 < width < 2**31 and 0 < height < 2**31)
        or depth not in (1, 2, 4, 8, 16)
        or colour not in (0, 2, 3, 4, 6)
    ):
        raise Damaged(label, "its image header is broken", _IMAGE)
    return Format(label, {"image": "image/png"}, tail_marker=b"IEND")


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(head: bytes, complete: bool) -> Format | None:
    if not head.startswith(b"\xff\xd8\xff"):
        return None
    label = "a JPEG image"
    accepts = {"image": "image/jpeg"}
    offset = 2
    while True:
        if offset + 4 > len(head):
            if complete:
                raise Damaged(label, "it ends before its image data", _IMAGE)
            # Large metadata blocks (colour profiles, EXIF thumbnails) fill what we read.
            return Format(label, accepts)
        if head[offset] != 0xFF:
            raise Damaged(label, "its structure is broken", _IMAGE)
        marker = head[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in _JPEG_SOF or marker == 0xDA:
            if marker != 0xDA and offset + 9 <= len(head):
                width = struct.unpack(">H", head[offset + 7 : offset + 9])[0]
                if width == 0:
                    raise Damaged(label, "its image size is zero", _IMAGE)
            return Format(label, accepts)
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            offset += 2
            continue
        if marker in (0xD8, 0xD9, 0x00):
            raise Damaged(label, "its structure is broken", _IMAGE)
        length = struct.unpack(">H", head[offset + 2 : offset + 4])[0]
        if length < 2:
            raise Damaged(label, "its structure is broken", _IMAGE)
        offset += 2 + length


def _gif(head: bytes, complete: bool) -> Format | None:
    if head[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    label = "a GIF image"
    if not _need(head, 13, complete, label, _IMAGE):
        return Format(label, {"image": "image/gif"})
    width, height = struct.unpack("<HH", head[6:10])
    if width == 0 or height == 0:
        raise Damaged(label, "its image size is zero", _IMAGE)
    return Format(label, {"image": "image/gif"})


# ---------------------------------------------------------------------------------------------
# PDF and text


def _pdf(head: bytes, complete: bool) -> Format | None:
    # Readers accept a header anywhere in the first 1024 bytes (some generators prepend bytes).
    match = re.search(rb"%PDF-[12]\.\d", head[:1024])
    if match is None:
        if head.startswith(b"%PDF") and complete:
            raise Damaged("a PDF document", "it ends inside its header", frozenset({"pdf"}))
        return None
    return Format("a PDF document", {"pdf": "application/pdf"}, tail_marker=b"%%EOF")


_UTF8_BOM = b"\xef\xbb\xbf"


def _text(head: bytes, complete: bool) -> Format | None:
    """WebVTT, and the text formats a refusal should name (SRT, HTML, SVG, scripts)."""
    body = head[len(_UTF8_BOM) :] if head.startswith(_UTF8_BOM) else head
    if body.startswith(b"WEBVTT") and (len(body) == 6 or body[6:7] in (b" ", b"\t", b"\n", b"\r")):
        return Format("a WebVTT caption file", {"captions": "text/vtt"}, utf8=True)
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(body, final=complete)
    except UnicodeDecodeError:
        try:
            text = head.decode("utf-16") if head[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        except UnicodeDecodeError:
            text = ""
        if not text:
            return None
        if text.lstrip("\ufeff").startswith("WEBVTT"):
            return Format("a WebVTT caption file saved as UTF-16 (save it again as UTF-8)")
    start = text.lstrip()[:2048]
    lowered = start.lower()
    if start.startswith("#!"):
        return Format("a script (program code)")
    if re.match(r"\d+\s*\r?\n\d\d:\d\d:\d\d,\d\d\d --> ", start):
        return Format("a SubRip (.srt) caption file (convert it to WebVTT: most caption editors can)")
    if lowered.startswith("webvtt"):
        return Format("a WebVTT caption file with a broken first line (it must be “WEBVTT” alone)")
    if "<svg" in lowered[:1024]:
        return Format("an SVG image (not accepted: SVG files can carry scripts; save it as PNG)")
    if (
        lowered.startswith(("<!doctype html", "<html", "<head", "<body", "<script"))
        or "<html" in lowered[:512]
    ):
        return Format("a web page (HTML)")
    if lowered.startswith("<?xml"):
        return Format("an XML document")
    if lowered.startswith("{\\rtf"):
        return Format("a rich-text (RTF) document")
    if "\x00" in start:
        return None
    return Format("a plain text file")


# ---------------------------------------------------------------------------------------------
# Formats refused for every kind, named so the teacher knows what they uploaded


def _others(head: bytes, complete: bool) -> Format | None:
    if head.startswith(b"PK\x03\x04"):
        window = head[:4096]
        for marker, label in (
            (b"word/", "a Word document"),
            (b"ppt/", "a PowerPoint presentation"),
            (b"xl/", "an Excel workbook"),
            (b"mimetypeapplication/vnd.oasis", "an OpenDocument file"),
        ):
            if marker in window:
                return Format(label + " (save or export it as PDF)")
        return Format("a ZIP archive")
    simple = (
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            "an older Office document (.doc, .ppt or .xls; save it as PDF)",
        ),
        (b"\x1f\x8b\x08", "a gzip archive"),
        (b"BZh", "a bzip2 archive"),
        (b"\xfd7zXZ\x00", "an xz archive"),
        (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
        (b"Rar!\x1a\x07", "a RAR archive"),
        (b"\x7fELF", "a program (ELF executable)"),
        (b"\xcf\xfa\xed\xfe", "a macOS program"),
        (b"\xca\xfe\xba\xbe", "a program (Java class or macOS universal binary)"),
        (b"II*\x00", "a TIFF image (save it as PNG or JPEG)"),
        (b"MM\x00*", "a TIFF image (save it as PNG or JPEG)"),
        (b"8BPS", "a Photoshop document (export it as PNG or JPEG)"),
        (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", "a Windows Media file (convert it to MP4)"),
        (b"FLV\x01", "a Flash video (convert it to MP4)"),
        (b"\x00\x00\x01\xba", "an MPEG program stream (convert it to MP4)"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image (save it as PNG or JPEG)"),
        (b"SQLite format 3\x00", "a database file"),
    )
    for magic, label in simple:
        if head.startswith(magic):
            return Format(label)
    # Two-letter magic numbers, confirmed by a field that text never has.
    if head.startswith(b"MZ") and b"\x00" in head[2:64]:
        return Format("a Windows program")
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":
        return Format("a BMP image (save it as PNG)")
    if len(head) >= 377 and head[0] == head[188] == head[376] == 0x47:
        return Format("an MPEG transport stream (convert it to MP4)")
    return None


_PROBES = (_iso_media, _webm, _ogg, _riff, _png, _jpeg, _gif, _flac, _mpeg_audio, _pdf, _others, _text)
