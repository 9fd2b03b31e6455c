"""A short, real WebM video for the learner flows, made in the browser under test.

Chromium encodes the frames itself (WebCodecs, VP8); this module wraps them in a WebM file with
its duration in the header (media players report progress only once they know the duration).
Nothing is downloaded and no encoder needs installing.
"""

from __future__ import annotations

import struct
from typing import Any

WIDTH, HEIGHT, FPS, FRAMES = 160, 90, 10, 20  # two seconds

ENCODE = """async ({width, height, fps, frames}) => {
  const chunks = [];
  let failure = null;
  const encoder = new VideoEncoder({
    output: (chunk) => {
      const bytes = new Uint8Array(chunk.byteLength);
      chunk.copyTo(bytes);
      chunks.push({key: chunk.type === "key", timestamp: chunk.timestamp, data: Array.from(bytes)});
    },
    error: (error) => { failure = String(error); },
  });
  encoder.configure({codec: "vp8", width, height, bitrate: 200000, framerate: fps});
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d");
  for (let i = 0; i < frames; i++) {
    context.fillStyle = `hsl(${(i * 360) / frames}, 70%, 45%)`;
    context.fillRect(0, 0, width, height);
    context.fillStyle = "#fff";
    context.font = "32px sans-serif";
    context.fillText(String(i + 1), 10, 50);
    const frame = new VideoFrame(canvas, {timestamp: (i * 1e6) / fps, duration: 1e6 / fps});
    encoder.encode(frame, {keyFrame: i === 0});
    frame.close();
  }
  await encoder.flush();
  if (failure) throw new Error(failure);
  return chunks;
}"""


def _size(length: int) -> bytes:
    # EBML sizes: 8 bytes, marker 0x01 then 7 bytes of length (simple, and always valid).
    return bytes([0x01]) + length.to_bytes(7, "big")


def _element(element_id: int, payload: bytes) -> bytes:
    id_bytes = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    return id_bytes + _size(len(payload)) + payload


def _uint(element_id: int, value: int) -> bytes:
    return _element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _text(element_id: int, value: str) -> bytes:
    return _element(element_id, value.encode("ascii"))


def webm(chunks: list[dict[str, Any]], width: int, height: int, duration_ms: float) -> bytes:
    header = _element(
        0x1A45DFA3,
        _uint(0x4286, 1)  # EBMLVersion
        + _uint(0x42F7, 1)  # EBMLReadVersion
        + _uint(0x42F2, 4)  # EBMLMaxIDLength
        + _uint(0x42F3, 8)  # EBMLMaxSizeLength
        + _text(0x4282, "webm")  # DocType
        + _uint(0x4287, 2)  # DocTypeVersion
        + _uint(0x4285, 2),  # DocTypeReadVersion
    )
    info = _element(
        0x1549A966,
        _uint(0x2AD7B1, 1_000_000)  # TimecodeScale: milliseconds
        + _element(0x4489, struct.pack(">d", duration_ms))  # Duration
        + _text(0x4D80, "course-studio-tests")  # MuxingApp
        + _text(0x5741, "course-studio-tests"),  # WritingApp
    )
    video = _element(0xE0, _uint(0xB0, width) + _uint(0xBA, height))
    tracks = _element(
        0x1654AE6B,
        _element(
            0xAE,  # TrackEntry
            _uint(0xD7, 1)  # TrackNumber
            + _uint(0x73C5, 1)  # TrackUID
            + _uint(0x83, 1)  # TrackType: video
            + _text(0x86, "V_VP8")  # CodecID
            + video,
        ),
    )
    blocks = b""
    for chunk in chunks:
        timecode = round(chunk["timestamp"] / 1000)  # microseconds to milliseconds
        flags = 0x80 if chunk["key"] else 0x00
        blocks += _element(0xA3, bytes([0x81]) + struct.pack(">hB", timecode, flags) + bytes(chunk["data"]))
    cluster = _element(0x1F43B675, _uint(0xE7, 0) + blocks)
    return header + _element(0x18538067, info + tracks + cluster)


def make_video(page: Any) -> bytes:
    """A two-second WebM video, encoded by `page`'s browser (a secure page: WebCodecs needs one)."""
    chunks = page.evaluate(ENCODE, {"width": WIDTH, "height": HEIGHT, "fps": FPS, "frames": FRAMES})
    assert len(chunks) == FRAMES and chunks[0]["key"]
    return webm(chunks, WIDTH, HEIGHT, duration_ms=FRAMES * 1000 / FPS)


CAPTIONS = """WEBVTT

00:00:00.000 --> 00:00:01.000
The Sun is a star.

00:00:01.000 --> 00:00:02.000
It holds 99.8% of the Solar System's mass.
"""
