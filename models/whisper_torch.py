"""PyTorch (transformers) backend: Whisper sequence-to-sequence models and CTC models (wav2vec2 ...).

Implements `models.backend.Backend`, as `models.whisper_ct2.CT2Whisper` does: `transcribe_windows`
gets a batch of 30-second log-mel windows and returns one `WindowResult` per window, times relative
to the window. CTC models read raw audio, not log-mel features: they set `needs_audio = True` and
are called with `transcribe_audio(audios)` (the pipeline sends window audio to them).

Differences from the CTranslate2 backend, by design or for now:
- one decoding pass at temperature 0 (beam search with the configured width); a window that
  fails Whisper's guards (compression ratio, mean log-probability) is kept and `flagged`
  instead of being decoded again at higher temperatures;
- `avg_logprob` and `no_speech_prob` come from one teacher-forced decoder pass over the chosen
  tokens (exact log-probabilities of those tokens; the no-speech probability is read after
  `<|startoftranscript|>`, as Whisper does); CTC models report the mean frame log-probability
  and no_speech_prob 0 (they have no such token);
- no word timestamps and no re-decoding after an early `<|t|><|t|>` stop, and so no text-only
  mode and no single-pass failures (`text_only` and `single_pass` are accepted and ignored).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from faster_whisper.transcribe import get_compression_ratio

from models.backend import WindowResult, features_of
from models.common.audio import SAMPLE_RATE, TIME_PRECISION_S, is_multilingual
from models.common.config import ModelConfig, StorageConfig
from models.common.profile import StageTimes
from models.common.storage import CACHE_DIR
from models.whisper_decoding import split_by_timestamps


def resolve_torch_model(spec: str, storage: StorageConfig) -> Path | str:
    """A local folder for `spec` (local folder, s3:// folder, bundled tiny.en), else the hub id itself.

    A CTranslate2 folder (the bundled tiny.en, or any s3:// CT2 model) is imported into a
    transformers checkpoint once and cached, so `--backend torch --model tiny.en` works offline.
    """
    from models.common.storage import is_s3
    from models.registry import BUNDLED_MODEL, bundled_model_path, resolve_model

    local = Path(spec).expanduser()
    if is_s3(spec) or local.is_dir() or (spec == BUNDLED_MODEL and bundled_model_path() is not None):
        return transformers_folder(resolve_model(spec, storage))
    return spec  # a hub id: transformers downloads it (when online)


def transformers_folder(folder: Path) -> Path:
    """`folder` itself when it holds a transformers checkpoint; an imported copy of a CT2 folder."""
    folder = Path(folder)
    if (folder / "config.json").exists() and "model_type" in json.loads((folder / "config.json").read_text()):
        return folder
    if not (folder / "model.bin").exists():
        raise FileNotFoundError(f"{folder} holds neither a transformers checkpoint nor a CTranslate2 model")
    from models.ct2_import import import_ct2

    stat = (folder / "model.bin").stat()
    key = hashlib.sha256(f"{folder.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = CACHE_DIR / "ct2-import" / key
    if (target / ".complete").exists():
        return target
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}")
    import_ct2(folder, partial)
    (partial / ".complete").write_text(str(folder))
    try:
        partial.rename(target)
    except OSError:
        if not (target / ".complete").exists():  # another process on this node won the race
            raise
    return target


def pick_device_dtype(config: ModelConfig) -> tuple[torch.device, torch.dtype]:
    """fp16 (bf16 where the GPU has it and asked for) on GPU, float32 on CPU."""
    device = config.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    named = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
    # "default", or a CTranslate2-only type such as int8: the device's natural precision.
    dtype = named.get(config.compute_type, torch.float16 if device == "cuda" else torch.float32)
    if device == "cpu" and dtype == torch.float16:
        dtype = torch.float32  # half-precision matmuls on CPU are slow or unsupported
    return torch.device(device), dtype


def is_ctc(model_dir: Path | str) -> bool:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    return any(a.endswith("ForCTC") for a in config.architectures or []) or config.model_type in {
        "wav2vec2",
        "wav2vec2-conformer",
        "hubert",
        "wavlm",
        "data2vec-audio",
        "sew",
        "sew-d",
        "unispeech",
        "unispeech-sat",
    }


class TorchBackend:
    """A transformers speech model behind `models.backend.Backend`."""

    def __init__(self, model_dir: Path | str, model_config: ModelConfig, threads: int = 0) -> None:
        if isinstance(model_dir, Path) or Path(str(model_dir)).is_dir():
            model_dir = transformers_folder(Path(model_dir))
        if threads:
            torch.set_num_threads(threads)
        self.config = model_config
        self.device, self.dtype = pick_device_dtype(model_config)
        self.on_gpu = self.device.type == "cuda"
        self.decodes_clips = False
        self.needs_audio = is_ctc(model_dir)
        self.times = StageTimes()  # nothing is timed inside yet: the caller times the whole call
        if self.needs_audio:
            self._ctc = _CTC(model_dir, self.device, self.dtype)
            self.n_mels, self.multilingual = 0, False
        else:
            self._seq2seq = _Seq2Seq(model_dir, self.device, self.dtype)
            self.n_mels, self.multilingual = self._seq2seq.n_mels, self._seq2seq.multilingual

    def transcribe_windows(
        self,
        features: np.ndarray,
        durations: list[float],
        decoding: ModelConfig | None = None,
        text_only: list[bool] | None = None,
        single_pass: list[bool] | None = None,
    ) -> list[WindowResult]:
        """See models.backend.Backend.transcribe_windows (`text_only`, `single_pass`: ignored here)."""
        if self.needs_audio:
            raise TypeError("a CTC model reads audio: call transcribe_audio (the pipeline sets needs_audio)")
        if len(durations) == 0:
            return []
        return self._seq2seq.transcribe(features, durations, decoding or self.config)

    def transcribe_audio(self, audios: list[np.ndarray], decoding: ModelConfig | None = None) -> list[WindowResult]:
        """audios: mono 16 kHz float32 arrays (each one window, at most 30 s)."""
        if not self.needs_audio:
            features, durations = features_of(audios, self.n_mels)
            return self.transcribe_windows(features, durations, decoding)
        return self._ctc.transcribe(audios, decoding or self.config) if audios else []


def _load(auto_class: Any, model_dir: Path | str, device: torch.device, dtype: torch.dtype) -> Any:
    try:
        model = auto_class.from_pretrained(model_dir, dtype=dtype, attn_implementation="sdpa")
    except (ValueError, ImportError):  # an architecture without SDPA support
        model = auto_class.from_pretrained(model_dir, dtype=dtype)
    return model.to(device).eval()


class _Seq2Seq:
    def __init__(self, model_dir: Path | str, device: torch.device, dtype: torch.dtype) -> None:
        from transformers import AutoModelForSpeechSeq2Seq, AutoTokenizer

        self.device, self.dtype = device, dtype
        self.model = _load(AutoModelForSpeechSeq2Seq, model_dir, device, dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        gen = self.model.generation_config
        self.n_mels = self.model.config.num_mel_bins
        self.multilingual = bool(getattr(gen, "is_multilingual", is_multilingual(self.model.config.vocab_size)))
        self.eot = gen.eos_token_id
        self.sot = self.model.config.decoder_start_token_id
        self.timestamp_begin = gen.no_timestamps_token_id + 1
        ids = self.tokenizer.convert_tokens_to_ids
        self.no_speech = next(
            (i for t in ("<|nospeech|>", "<|nocaptions|>") if (i := ids(t)) not in (None, self.tokenizer.unk_token_id)),
            None,
        )

    @torch.inference_mode()
    def transcribe(self, features: np.ndarray, durations: list[float], cfg: ModelConfig) -> list[WindowResult]:
        x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(self.device, self.dtype)
        encoder_outputs = self.model.get_encoder()(x)
        languages = self._languages(encoder_outputs, len(durations), cfg)
        codes = [code for code, _ in languages]
        kwargs: dict[str, Any] = {"language": codes, "task": "transcribe"} if self.multilingual else {}
        sequences = self.model.generate(
            encoder_outputs=encoder_outputs,
            return_timestamps=True,
            num_beams=cfg.beam_size,
            **kwargs,
        )
        if not isinstance(sequences, torch.Tensor):
            sequences = sequences["sequences"]
        tokens = [self._trim(row) for row in sequences.tolist()]
        avg_logprobs, no_speech = self._score(encoder_outputs, tokens, codes)
        return [
            WindowResult(
                segments=self._segments(tokens[i], duration, avg_logprobs[i], no_speech[i], cfg),
                language=languages[i][0],
                language_probability=languages[i][1],
            )
            for i, duration in enumerate(durations)
        ]

    def _trim(self, row: list[int]) -> list[int]:
        """Generated tokens up to (not including) the end of text, without any decoder prompt."""
        if self.eot in row:
            row = row[: row.index(self.eot)]
        while row and row[0] >= self.eot and row[0] < self.timestamp_begin:
            row = row[1:]  # <|startoftranscript|>, language, task or <|notimestamps|> tokens
        return row

    def _score(
        self, encoder_outputs: Any, tokens: list[list[int]], languages: list[str]
    ) -> tuple[list[float], list[float]]:
        """Mean log-probability of each window's tokens (+ end of text) and the no-speech probability."""
        prompts = [self._prompt(language) for language in languages]
        rows = [p + t + [self.eot] for p, t in zip(prompts, tokens, strict=True)]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.eot, dtype=torch.long, device=self.device)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        logits = self.model(encoder_outputs=encoder_outputs, decoder_input_ids=ids[:, :-1]).logits.float()
        logprobs = torch.log_softmax(logits, dim=-1)
        avg, no_speech = [], []
        for i, row in enumerate(rows):
            start = len(prompts[i]) - 1  # the position that predicts the first generated token
            targets = torch.tensor(row[start + 1 :], device=self.device)
            picked = logprobs[i, start : start + len(targets)].gather(-1, targets[:, None])
            avg.append(float(picked.sum() / len(targets)))
            speech = 0.0
            if self.no_speech is not None:
                speech = float(logprobs[i, 0, self.no_speech].exp())  # the position after <|startoftranscript|>
            no_speech.append(speech)
        return avg, no_speech

    def _prompt(self, language: str) -> list[int]:
        if not self.multilingual:
            return [self.sot]
        ids = self.tokenizer.convert_tokens_to_ids
        return [self.sot, ids(f"<|{language}|>"), ids("<|transcribe|>")]

    def _languages(self, encoder_outputs: Any, n: int, cfg: ModelConfig) -> list[tuple[str, float]]:
        """(language, probability) per window: the configured one, or Whisper's detection for multilingual models."""
        if not self.multilingual or cfg.language:
            return [(cfg.language if self.multilingual else "en", 1.0)] * n
        lang_to_id: dict[str, int] = self.model.generation_config.lang_to_id
        names = list(lang_to_id)
        start = torch.full((n, 1), self.sot, dtype=torch.long, device=self.device)
        logits = self.model(encoder_outputs=encoder_outputs, decoder_input_ids=start).logits[:, -1].float()
        probs = logits[:, [lang_to_id[name] for name in names]].softmax(dim=-1)
        best = probs.argmax(dim=-1).tolist()
        return [(names[b][2:-2], float(probs[i, b])) for i, b in enumerate(best)]

    def _segments(
        self, tokens: list[int], duration: float, avg_logprob: float, no_speech: float, cfg: ModelConfig
    ) -> list[dict]:
        if no_speech > cfg.no_speech_threshold and avg_logprob < cfg.log_prob_threshold:
            return []  # Whisper's silence rule: nothing was said
        text_all = self._decode(tokens)
        flagged = bool(
            (text_all.strip() and get_compression_ratio(text_all) > cfg.compression_ratio_threshold)
            or avg_logprob < cfg.log_prob_threshold
        )
        segments = []
        for sub in split_by_timestamps(tokens, self.timestamp_begin, self.eot, TIME_PRECISION_S, duration):
            text = self._decode(sub["tokens"])
            if not text.strip():
                continue
            segments.append(
                {
                    "start": float(sub["start"]),
                    "end": float(min(sub["end"], duration)),
                    "text": text,
                    "avg_logprob": avg_logprob,
                    "no_speech_prob": no_speech,
                    "compression_ratio": float(get_compression_ratio(text)),
                    "temperature": 0.0,
                    "flagged": flagged,
                }
            )
        return segments

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode([t for t in tokens if t < self.eot])


class _CTC:
    def __init__(self, model_dir: Path | str, device: torch.device, dtype: torch.dtype) -> None:
        from transformers import AutoModelForCTC, AutoProcessor

        self.device, self.dtype = device, dtype
        self.model = _load(AutoModelForCTC, model_dir, device, dtype)
        self.processor = AutoProcessor.from_pretrained(model_dir)

    @torch.inference_mode()
    def transcribe(self, audios: list[np.ndarray], cfg: ModelConfig) -> list[WindowResult]:
        inputs = self.processor(
            [np.asarray(a, dtype=np.float32) for a in audios],
            sampling_rate=SAMPLE_RATE,
            return_tensors="pt",
            padding=True,
            return_attention_mask=True,
        )
        values = inputs["input_values"].to(self.device, self.dtype)
        mask = inputs.get("attention_mask")
        logits = self.model(values, attention_mask=None if mask is None else mask.to(self.device)).logits.float()
        logprobs = torch.log_softmax(logits, dim=-1)
        best, ids = logprobs.max(dim=-1)
        frames = [self._frames(len(a), logits.shape[1], max(len(b) for b in audios)) for a in audios]
        texts = self.processor.batch_decode([row[:n] for row, n in zip(ids.tolist(), frames, strict=True)])
        results = []
        for i, (audio, text) in enumerate(zip(audios, texts, strict=True)):
            if not text.strip():
                results.append(WindowResult())
                continue
            avg_logprob = float(best[i, : frames[i]].mean())
            segment = {
                "start": 0.0,
                "end": len(audio) / SAMPLE_RATE,
                "text": " " + text.strip(),
                "avg_logprob": avg_logprob,
                "no_speech_prob": 0.0,
                "compression_ratio": float(get_compression_ratio(text)),
                "temperature": 0.0,
                "flagged": bool(get_compression_ratio(text) > cfg.compression_ratio_threshold),
            }
            results.append(WindowResult(segments=[segment], language=cfg.language or "en"))
        return results

    @staticmethod
    def _frames(samples: int, total_frames: int, longest: int) -> int:
        """Output frames that belong to a clip of `samples` in a batch padded to `longest` samples."""
        return max(1, min(total_frames, round(total_frames * samples / max(1, longest))))
