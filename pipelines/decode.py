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


# Bounds on what a file declares, checked when it is opened, before any sample is decoded: a header
# costs its author nothing, while decoding what it declares costs time and memory.
# Below 4 kHz nothing above 2 kHz survives, which is not speech a model can transcribe; and every
# source sample becomes 16000/rate samples, so a 120 KB WAV declaring 2 Hz decoded to 8 hours.
MIN_SAMPLE_RATE = 4000
# 768 kHz is twice the highest rate of studio formats (DXD, 352.8/384 kHz).
MAX_SAMPLE_RATE = 768_000
# Ambisonics of the 6th order have 49 channels; call recorders have a few.
MAX_CHANNELS = 64
# Containers carrying more streams than this are not recordings (FFmpeg probes every one).
MAX_STREAMS = 64
# Compressed audio carries at least this many bytes per second of sound: the lowest speech codecs
# (Codec2 at 700 bit/s) carry about 87. A file far below it decodes to hours of generated silence
# from a few KB (an Opus or FLAC "bomb"); it is refused once it has decoded RATIO_CHECK_AFTER_S,
# so such a file costs at most that much decoding.
MIN_BYTES_PER_S = 16
RATIO_CHECK_AFTER_S = 600.0


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
        try:
            codec = self._check_declared()
        except DecodeError:
            self.close()
            raise
        self.source_sample_rate = int(codec.sample_rate or 0) or SAMPLE_RATE
        self.source_channels = int(codec.channels or 0) or 1
        self.n_channels = self.source_channels if split_channels else 1
        layout = codec.layout.name if self.n_channels > 1 else "mono"
        # s16 like faster-whisper's decode_audio, so transcripts match it sample for sample.
        self._resampler = av.audio.resampler.AudioResampler(format="s16", layout=layout, rate=SAMPLE_RATE)
        self._max_samples = int(max_duration_s * SAMPLE_RATE) if max_duration_s else None
        self.samples_read = 0
        self.packet_bytes = 0  # compressed bytes of the audio stream demuxed so far

    def _check_declared(self) -> av.codec.context.CodecContext:
        """The first audio stream's codec, after checking what the container declares about it."""
        streams = self._container.streams
        if len(streams) > MAX_STREAMS:
            raise DecodeError(f"container has {len(streams)} streams (more than {MAX_STREAMS}): not a recording")
        if not streams.audio:
            raise DecodeError("no audio stream in file")
        codec = streams.audio[0].codec_context
        rate, channels = int(codec.sample_rate or 0), int(codec.channels or 0)
        if rate and not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise DecodeError(
                f"declared sample rate {rate} Hz is outside {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz: not speech audio"
            )
        if channels > MAX_CHANNELS:
            raise DecodeError(f"declared {channels} channels (more than {MAX_CHANNELS}): not a recording")
        return codec

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
        # Demuxed packet by packet (what container.decode() does inside) to count compressed bytes.
        packets = self._container.demux(self._container.streams.audio[0])
        errors = 0
        while True:
            try:
                packet = next(packets)
                self.packet_bytes += packet.size
                frames = packet.decode()
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
            for frame in frames:
                yield from self._convert(self._resample(frame))
        yield from self._convert(self._resample(None))

    def _resample(self, frame: av.AudioFrame | None) -> list[av.AudioFrame]:
        try:
            return self._resampler.resample(frame)
        except av.error.FFmpegError as exc:
            # e.g. 9 or 32 channels: FFmpeg knows no layout to mix them down from.
            raise DecodeError(
                f"audio could not be converted ({self.source_channels} channels at {self.source_sample_rate} Hz): "
                f"{_ffmpeg_message(exc)}"
            ) from exc

    def _convert(self, frames: list[av.AudioFrame]) -> Iterator[np.ndarray]:
        for out in frames:
            interleaved = out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0
            array = interleaved.reshape(-1, self.n_channels).T
            self.samples_read += array.shape[-1]
            if self._max_samples is not None and self.samples_read > self._max_samples:
                raise DecodeError(f"recording longer than the limit of {self._max_samples / SAMPLE_RATE:.0f} s")
            self._check_expansion()
            yield array

    def _check_expansion(self) -> None:
        seconds = self.samples_read / SAMPLE_RATE
        if seconds >= RATIO_CHECK_AFTER_S and self.packet_bytes < MIN_BYTES_PER_S * seconds:
            raise DecodeError(
                f"{self.packet_bytes} bytes decoded to over {seconds:.0f} s of audio (fewer than "
                f"{MIN_BYTES_PER_S} bytes per second): a decompression bomb, not a recording"
            )


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
