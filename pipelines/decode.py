"""Decode stage: any container and codec PyAV (FFmpeg) reads, resampled to 16 kHz float32.

Audio comes out in blocks, so a three-hour recording never has to sit in memory whole:
`AudioStream.blocks()` yields (channels, n) arrays; `decode_audio` joins them for short inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import av
import numpy as np

from models.common.audio import SAMPLE_RATE


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


class AudioStream:
    """An open recording. Mixing to mono averages channels, as FFmpeg and Whisper do."""

    def __init__(
        self, source: str | BinaryIO, *, split_channels: bool = False, max_duration_s: float | None = None
    ) -> None:
        # A file object's bytes may come from anyone (an upload, a bucket): FFmpeg must not follow
        # what they name (an ffconcat list or a playlist opening server-side files or URLs).
        options = None if isinstance(source, str) else {"protocol_whitelist": "none"}
        try:
            self._container = av.open(source, mode="r", metadata_errors="ignore", options=options)
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
            raise DecodeError(f"not a readable audio file: {_ffmpeg_message(exc)}") from exc
        if not self._container.streams.audio:
            self.close()
            raise DecodeError("no audio stream in file")
        codec = self._container.streams.audio[0].codec_context
        self.source_sample_rate = int(codec.sample_rate or 0) or SAMPLE_RATE
        self.source_channels = int(codec.channels or 0) or 1
        self.n_channels = self.source_channels if split_channels else 1
        layout = codec.layout.name if self.n_channels > 1 else "mono"
        # s16 like faster-whisper's decode_audio, so transcripts match it sample for sample.
        self._resampler = av.audio.resampler.AudioResampler(format="s16", layout=layout, rate=SAMPLE_RATE)
        self._max_samples = int(max_duration_s * SAMPLE_RATE) if max_duration_s else None
        self.samples_read = 0

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # No gc.collect() here: PyAV >= 14 frees its resampler by reference counting (faster-whisper
        # issue 390 was about older PyAV; tests/test_decode.py checks that no cycle is left). A full
        # collection in a worker that has imported torch walks ~200k objects: about 100 ms per file,
        # which capped an archive of short files at about ten files per second per core.
        self._container.close()

    @property
    def duration_s(self) -> float:
        return self.samples_read / SAMPLE_RATE

    def blocks(self, block_samples: int) -> Iterator[np.ndarray]:
        """(channels, n) float32 blocks of `block_samples` (the last one shorter)."""
        pending: list[np.ndarray] = []
        held = 0
        for array in self._frames():
            pending.append(array)
            held += array.shape[-1]
            while held >= block_samples:
                joined = np.concatenate(pending, axis=-1)
                yield joined[:, :block_samples]
                rest = joined[:, block_samples:]
                pending, held = [rest], rest.shape[-1]
        if held:
            yield np.concatenate(pending, axis=-1)
        if self.samples_read == 0:
            raise DecodeError("no audio samples decoded (empty or zero-length audio)")

    def _frames(self) -> Iterator[np.ndarray]:
        decoded = self._container.decode(audio=0)
        errors = 0
        while True:
            try:
                frame = next(decoded)
            except StopIteration:
                break
            except av.error.InvalidDataError as exc:
                # One corrupt packet in a long recording should cost that packet, not the file.
                errors += 1
                if errors > 100:
                    raise DecodeError(f"audio could not be decoded: {_ffmpeg_message(exc)}") from exc
                continue
            except av.error.FFmpegError as exc:
                raise DecodeError(f"audio could not be decoded: {_ffmpeg_message(exc)}") from exc
            yield from self._convert(self._resampler.resample(frame))
        yield from self._convert(self._resampler.resample(None))

    def _convert(self, frames: list[av.AudioFrame]) -> Iterator[np.ndarray]:
        for out in frames:
            interleaved = out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0
            array = interleaved.reshape(-1, self.n_channels).T
            self.samples_read += array.shape[-1]
            if self._max_samples is not None and self.samples_read > self._max_samples:
                raise DecodeError(f"recording longer than the limit of {self._max_samples / SAMPLE_RATE:.0f} s")
            yield array


def decode_audio(
    source: str | BinaryIO, *, split_channels: bool = False, max_duration_s: float | None = None
) -> DecodedAudio:
    """The whole recording in memory (for clips and online requests)."""
    with AudioStream(source, split_channels=split_channels, max_duration_s=max_duration_s) as stream:
        blocks = list(stream.blocks(1 << 62))
        return DecodedAudio(np.ascontiguousarray(blocks[0]), stream.source_sample_rate, stream.source_channels)


def _ffmpeg_message(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(": '", 1)[0] if isinstance(text, str) else str(exc)
