"""CTranslate2 Whisper backend: batched generation over 30-second feature windows.

Windows from many files arrive together; each is decoded with Whisper's prompt, beam search,
timestamp tokens and Whisper's temperature fallback (models.whisper_ct2_decode), then split into
segments (and optionally words, by cross-attention alignment). Times are relative to the window.
"""

from __future__ import annotations

import math
from pathlib import Path

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer

from models.backend import ClipSpan, WindowResult, features_of
from models.common.audio import FRAMES_PER_SECOND, pad_or_trim
from models.common.config import ModelConfig
from models.common.profile import StageTimes
from models.whisper_ct2_clips import decode_clips, silent_window
from models.whisper_ct2_decode import CT2Decoder, as_array, select_rows, token_limit
from models.whisper_decoding import before_seek, shift_segment

__all__ = ["CT2Whisper", "WindowResult", "pick_compute_type", "pick_device"]

# A window whose decoding stopped early is decoded again from there, at most this many times.
MAX_SEEK_ROUNDS = 3


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def pick_compute_type(compute_type: str, device: str) -> str:
    if compute_type != "default":
        return compute_type
    return "float16" if device == "cuda" else "int8"


class CT2Whisper:
    """A CTranslate2 Whisper model behind `models.backend.Backend`."""

    needs_audio = False
    decodes_clips = True

    def __init__(self, model_dir: Path, config: ModelConfig, threads: int = 0) -> None:
        self.config = config
        self.device = pick_device(config.device)
        self.on_gpu = self.device == "cuda"
        self.compute_type = pick_compute_type(config.compute_type, self.device)
        self.model = WhisperModel(
            str(model_dir), device=self.device, compute_type=self.compute_type, cpu_threads=threads, num_workers=1
        )
        self.multilingual = self.model.model.is_multilingual
        self.n_mels = self.model.model.n_mels
        self._tokenizers: dict[str, Tokenizer] = {}
        self._silences: dict[float, np.ndarray] = {}
        # Taken by the caller after each batch (models.backend.take_times).
        self.times = StageTimes()
        self.decoder = CT2Decoder(self.model, self.times)

    def tokenizer(self, language: str) -> Tokenizer:
        if language not in self._tokenizers:
            self._tokenizers[language] = Tokenizer(
                self.model.hf_tokenizer, self.multilingual, task="transcribe", language=language
            )
        return self._tokenizers[language]

    def prompt(self, tokenizer: Tokenizer, cfg: ModelConfig, text_only: bool | None = None) -> list[int]:
        return self.decoder.prompt(tokenizer, cfg, text_only)

    def transcribe_audio(self, audios: list[np.ndarray], decoding: ModelConfig | None = None) -> list[WindowResult]:
        features, durations = features_of(audios, self.n_mels)
        return self.transcribe_windows(features, durations, decoding)

    def transcribe_windows(
        self,
        features: np.ndarray,
        durations: list[float],
        decoding: ModelConfig | None = None,
        text_only: list[bool] | None = None,
        single_pass: list[bool] | None = None,
    ) -> list[WindowResult]:
        """See models.backend.Backend.transcribe_windows."""
        if len(durations) == 0:
            return []
        cfg = decoding or self.config
        modes = text_only if text_only is not None else [bool(cfg.without_timestamps)] * len(durations)
        single = single_pass if single_pass is not None else [False] * len(durations)
        with self.times.stage("model:encode"):
            encoder_output = self.model.encode(np.ascontiguousarray(features, dtype=np.float32))
        languages = self.languages(encoder_output, len(durations), cfg)
        results: list[WindowResult | None] = [None] * len(durations)
        for language, mode in sorted({(lang, m) for (lang, _), m in zip(languages, modes, strict=True)}):
            idx = [
                i
                for i, ((lang, _), m) in enumerate(zip(languages, modes, strict=True))
                if (lang, m) == (language, mode)
            ]
            # Mixed batches are rare (a batch across a long recording and clips, or several
            # languages with a multilingual model): those rows' encoder output is taken apart.
            enc = encoder_output if len(idx) == len(durations) else select_rows(encoder_output, idx)
            group = self._transcribe_group(
                features[idx], [durations[i] for i in idx], language, enc, cfg, mode, [single[i] for i in idx]
            )
            for i, result in zip(idx, group, strict=True):
                result.language, result.language_probability = languages[i]
                results[i] = result
        return [r for r in results if r is not None]

    def transcribe_clips(
        self, features: np.ndarray, spans: list[ClipSpan], decoding: ModelConfig | None = None
    ) -> list[WindowResult]:
        """See models.backend.Backend.transcribe_clips (models.whisper_ct2_clips)."""
        return decode_clips(self, features, spans, decoding or self.config) if spans else []

    def silence(self, value: float) -> np.ndarray:
        """The encoder output of a silent window of feature `value`, (N_AUDIO_CTX, d_model): computed once."""
        if value not in self._silences:
            self._silences[value] = as_array(self.model.encode(silent_window(self.n_mels, value)))[0]
        return self._silences[value]

    def _transcribe_group(
        self,
        features: np.ndarray,
        durations: list[float],
        language: str,
        encoder_output: ctranslate2.StorageView | None,
        cfg: ModelConfig,
        text_only: bool = False,
        single: list[bool] | None = None,
    ) -> list[WindowResult]:
        """Decode windows; where Whisper stops early (it expects to seek), decode the rest again.

        Whisper ends a window with `<|t|><|t|>` when it wants the next window to start at t. The
        sequential loop seeks there; here the remainders of all such windows (features from t on,
        exactly what Whisper's own seek slices) are decoded together in another batched round.
        """
        results = [WindowResult() for _ in durations]
        rows, offsets = list(range(len(durations))), [0.0] * len(durations)
        single = single or [False] * len(durations)
        for round_index in range(MAX_SEEK_ROUNDS + 1):
            if encoder_output is None:
                with self.times.stage("model:seek encode"):
                    encoder_output = self.model.encode(np.ascontiguousarray(features, dtype=np.float32))
                self.times.add("model:seek windows", 0.0, 0.0, calls=len(durations))
            stage = "model:decode" if round_index == 0 else "model:seek decode"
            chosen = [single[r] for r in rows]
            decoded = self.decoder.decode(
                encoder_output,
                durations,
                self.tokenizer(language),
                cfg,
                stage,
                text_only,
                chosen,
                max_tokens=token_limit(max(durations)),
            )
            next_rows, next_features, next_durations, next_offsets = [], [], [], []
            for k, (segments, seek, failed) in enumerate(decoded):
                if failed:
                    results[rows[k]].failed = True
                    continue
                seeking = seek is not None and round_index < MAX_SEEK_ROUNDS
                for segment in before_seek(segments, seek) if seeking else segments:
                    results[rows[k]].segments.append(shift_segment(segment, offsets[k]))
                if seeking:
                    content = math.ceil(durations[k] * FRAMES_PER_SECOND)
                    next_features.append(pad_or_trim(features[k][:, round(seek * FRAMES_PER_SECOND) : content]))
                    next_durations.append(durations[k] - seek)
                    next_offsets.append(offsets[k] + seek)
                    next_rows.append(rows[k])
            if not next_rows:
                break
            features, durations = np.stack(next_features), next_durations
            rows, offsets, encoder_output = next_rows, next_offsets, None
        return results

    def languages(self, encoder_output: ctranslate2.StorageView, n: int, cfg: ModelConfig) -> list[tuple[str, float]]:
        if cfg.language:
            return [(cfg.language if self.multilingual else "en", 1.0)] * n
        if not self.multilingual:
            return [("en", 1.0)] * n
        with self.times.stage("model:language id"):
            detected = self.model.model.detect_language(encoder_output)
        return [(pairs[0][0][2:-2], float(pairs[0][1])) for pairs in detected]
