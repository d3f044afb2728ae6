"""Decode stage: any container and codec PyAV (FFmpeg) reads, resampled to 16 kHz float32."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import BinaryIO

import av
import numpy as np

SAMPLE_RATE = 16_000  # Whisper's input rate
# Decoded frames are resampled in groups of this many samples: fewer resampler calls, bounded buffers.
_FRAME_GROUP_SAMPLES = 500_000


class DecodeError(ValueError):
    """The input is not decodable audio; the message is shown to users as the row's `error`."""


@dataclass(frozen=True)
class DecodedAudio:
    """Audio at 16 kHz: `samples` is (channels, n) when channels were kept apart, else (1, n)."""

    samples: np.ndarray
    source_sample_rate: int
    source_channels: int

    @property
    def duration_s(self) -> float:
        return self.samples.shape[-1] / SAMPLE_RATE


def decode_audio(
    source: str | BinaryIO, *, split_channels: bool = False, max_duration_s: float | None = None
) -> DecodedAudio:
    """Decode the first audio stream. Mixing to mono averages channels, as FFmpeg and Whisper do."""
    try:
        container = av.open(source, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise DecodeError(f"not a readable audio file: {_ffmpeg_message(exc)}") from exc
    try:
        if not container.streams.audio:
            raise DecodeError("no audio stream in file")
        stream = container.streams.audio[0]
        source_rate = int(stream.codec_context.sample_rate or stream.sample_rate or 0)
        source_channels = int(stream.codec_context.channels or 0)
        layout = "mono"
        if split_channels and source_channels > 1:
            layout = stream.codec_context.layout.name
        resampler = av.audio.resampler.AudioResampler(format="s16", layout=layout, rate=SAMPLE_RATE)
        max_samples = int(max_duration_s * SAMPLE_RATE) if max_duration_s else None
        pieces, total = _decode_frames(container, resampler, max_samples)
    except av.error.FFmpegError as exc:
        raise DecodeError(f"audio could not be decoded: {_ffmpeg_message(exc)}") from exc
    finally:
        container.close()
        # PyAV's resampler objects are only freed by a collection (faster-whisper issue 390).
        gc.collect()
    if total == 0:
        raise DecodeError("no audio samples decoded (empty or zero-length audio)")
    interleaved = np.concatenate(pieces).astype(np.float32) / 32768.0
    n_channels = source_channels if layout != "mono" else 1
    samples = interleaved.reshape(-1, n_channels).T.copy()
    return DecodedAudio(samples, source_rate or SAMPLE_RATE, source_channels or n_channels)


def _decode_frames(
    container: av.container.InputContainer,
    resampler: av.audio.resampler.AudioResampler,
    max_samples: int | None,
) -> tuple[list[np.ndarray], int]:
    pieces: list[np.ndarray] = []
    total = 0
    errors = 0
    decoded = container.decode(audio=0)
    while True:
        try:
            frame = next(decoded)
        except StopIteration:
            break
        except av.error.InvalidDataError:
            # One corrupt packet in a long recording should cost that packet, not the file.
            errors += 1
            if errors > 100:
                raise
            continue
        for out in resampler.resample(frame):
            array = out.to_ndarray().reshape(-1)
            pieces.append(array)
            total += array.shape[0] // max(1, len(out.layout.channels))
        if max_samples is not None and total > max_samples:
            raise DecodeError(f"recording longer than the limit of {max_samples / SAMPLE_RATE:.0f} s")
    for out in resampler.resample(None):
        array = out.to_ndarray().reshape(-1)
        pieces.append(array)
        total += array.shape[0] // max(1, len(out.layout.channels))
    return pieces, total


def _ffmpeg_message(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": '", 1)[0] if isinstance(text, str) else str(exc)
