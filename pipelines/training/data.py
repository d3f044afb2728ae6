"""Training data for `voxray finetune`: labelled clips -> model inputs, as Ray Data streams.

Two sources of (path, text) rows: a manifest (CSV/JSONL/Parquet with `path` and `text`) or
voxray transcripts kept as pseudo-labels when the model was confident (status ok, no flagged
segment, duration-weighted mean avg_logprob above a threshold). CPU tasks decode the audio and
turn each row into what the trainers consume: Whisper log-mel windows plus token labels, or raw
audio plus character labels for CTC models.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from models.common.audio import N_AUDIO_CTX, N_SAMPLES, SAMPLE_RATE, TIME_PRECISION_S, is_multilingual
from models.common.config import StorageConfig
from models.common.storage import arrow_filesystem, filesystem, is_s3, strip_scheme
from models.features import LogMel
from pipelines.decode import DecodeError, decode_audio
from pipelines.listing import manifest_rows

log = logging.getLogger(__name__)

# Label sequences are padded to this many tokens with -100 (ignored by the loss) so that every
# batch has one shape; Whisper's decoder holds 448 positions, and a 30 s clip rarely needs 200.
MAX_LABEL_TOKENS = 224
IGNORE_INDEX = -100
# One labelled clip; channel -1 means the mix of all channels. `general`: speech outside the domain
# (a manifest's optional column), whose distillation weight is FinetuneConfig.distill_general.
ROW_SCHEMA = pa.schema([("path", pa.string()), ("text", pa.string()), ("channel", pa.int64()), ("general", pa.bool_())])


@dataclass(frozen=True)
class PseudoLabelFilter:
    """Which transcripts are trusted as labels."""

    min_avg_logprob: float = -0.5
    min_chars: int = 2
    max_duration_s: float = 30.0


def manifest_dataset(manifest: str, storage: StorageConfig):  # noqa: ANN201 (ray.data.Dataset)
    import ray.data

    return ray.data.from_items(manifest_items(manifest, storage))


def manifest_items(manifest: str, storage: StorageConfig) -> list[dict[str, Any]]:
    """A manifest's labelled rows as ROW_SCHEMA dicts (rows without text dropped)."""
    columns = manifest_rows(manifest, storage, required=("path", "text"))
    general = [_flag(g) for g in columns.get("general") or [None] * len(columns["path"])]
    rows = [
        {"path": p, "text": str(t), "channel": -1, "general": g}
        for p, t, g in zip(columns["path"], columns["text"], general, strict=True)
        if t is not None and str(t).strip()
    ]
    if not rows:
        raise ValueError(f"manifest {manifest} has no rows with text")
    return rows


def _flag(value: Any) -> bool:
    """A manifest's boolean cell: JSON true/false, or CSV text such as "true", "1", "" (absent: false)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def pseudo_label_table(transcripts: str, storage: StorageConfig, keep: PseudoLabelFilter) -> pa.Table:
    """(path, text, channel) rows of confident transcripts from a voxray output dataset."""
    fs, root = arrow_filesystem(transcripts, storage)
    table = pads.dataset(root, filesystem=fs, format="parquet").to_table(
        columns=["path", "channel", "status", "text", "duration_s", "segments"]
    )
    table = table.filter(pc.equal(table["status"], "ok"))
    rows = []
    for row in table.to_pylist():
        if _trusted(row, keep):
            channel = row["channel"] if row["channel"] is not None else -1
            rows.append({"path": row["path"], "text": row["text"].strip(), "channel": channel, "general": False})
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def _trusted(row: dict[str, Any], keep: PseudoLabelFilter) -> bool:
    text, segments = (row["text"] or "").strip(), row["segments"] or []
    if len(text) < keep.min_chars or not segments or (row["duration_s"] or 0) > keep.max_duration_s:
        return False
    if any(s["flagged"] for s in segments):
        return False
    weights = [max(1e-3, s["end"] - s["start"]) for s in segments]
    mean = sum(w * s["avg_logprob"] for w, s in zip(weights, segments, strict=True)) / sum(weights)
    return mean > keep.min_avg_logprob


def pseudo_label_dataset(transcripts: str, storage: StorageConfig, keep: PseudoLabelFilter):  # noqa: ANN201
    import ray.data

    table = pseudo_label_table(transcripts, storage, keep)
    if table.num_rows == 0:
        raise ValueError(f"no transcript in {transcripts} passes the confidence filter {keep}")
    return ray.data.from_arrow(table)


def training_dataset(source: str, storage: StorageConfig, keep: PseudoLabelFilter | None = None):  # noqa: ANN201
    """A manifest file, or a transcripts folder/prefix (pseudo-labels), as (path, text, channel) rows."""
    suffix = Path(strip_scheme(source) if is_s3(source) else source).suffix.lower()
    if suffix in (".csv", ".jsonl", ".parquet") and filesystem(source, storage).isfile(
        strip_scheme(source) if is_s3(source) else source
    ):
        return manifest_dataset(source, storage)
    return pseudo_label_dataset(source, storage, keep or PseudoLabelFilter())


def _audio(path: str, channel: int, storage: StorageConfig) -> np.ndarray | None:
    """Mono 16 kHz audio of one clip (one channel of it), or None when it cannot be used."""
    try:
        fs = filesystem(path, storage)
        with fs.open(strip_scheme(path) if is_s3(path) else path, "rb") as fh:
            decoded = decode_audio(fh, split_channels=channel >= 0, max_duration_s=30.0)
    except (DecodeError, OSError, ValueError) as exc:
        log.warning("skipping %s: %s", path, exc)
        return None
    samples = decoded.samples[channel if channel >= 0 else 0]
    if samples.shape[-1] > N_SAMPLES or samples.shape[-1] == 0:
        log.warning("skipping %s: %.1f s does not fit one 30 s window", path, samples.shape[-1] / SAMPLE_RATE)
        return None
    return samples


class WhisperExamples:
    """Ray Data stage: (path, text, channel) rows -> `features` (B, n_mels, 3000) and `labels` (B, 224).

    Labels follow Whisper's training format after `<|startoftranscript|>` (which the model's
    decoder start token supplies): optional language and task tokens, then either
    `<|notimestamps|> text <|endoftext|>` or `<|0.00|> text <|end|> <|endoftext|>`. Whisper was
    trained on both; a fixed share of clips (chosen by path, so it is stable across epochs and
    resumes) keeps timestamps so the fine-tuned model still predicts them at inference.
    """

    def __init__(
        self,
        model_dir: str,
        storage: StorageConfig,
        language: str = "en",
        timestamp_share: float = 0.5,
        keep_text: bool = False,
    ) -> None:
        from transformers import AutoConfig, AutoTokenizer

        self.storage = storage
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        config = AutoConfig.from_pretrained(model_dir)
        self.logmel = LogMel(config.num_mel_bins)
        ids = self.tokenizer.convert_tokens_to_ids
        self.eot = ids("<|endoftext|>")
        self.no_timestamps = ids("<|notimestamps|>")
        self.timestamp_begin = self.no_timestamps + 1
        multilingual = is_multilingual(config.vocab_size)
        self.prefix = [ids(f"<|{language}|>"), ids("<|transcribe|>")] if multilingual else []
        self.timestamp_share = timestamp_share
        self.keep_text = keep_text  # validation keeps the reference text next to the inputs

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        features, labels, texts, general = [], [], [], []
        flags = batch["general"] if "general" in batch else np.zeros(len(batch["path"]), bool)
        for path, text, channel, flag in zip(batch["path"], batch["text"], batch["channel"], flags, strict=True):
            audio = _audio(str(path), int(channel), self.storage)
            if audio is None:
                continue
            features.append(self.logmel(audio))
            labels.append(self.labels(str(path), str(text), audio.shape[-1] / SAMPLE_RATE))
            texts.append(str(text))
            general.append(bool(flag))
        n_mels = self.logmel.n_mels
        out = {
            "features": np.stack(features) if features else np.zeros((0, n_mels, 3000), np.float32),
            "labels": np.stack(labels) if labels else np.zeros((0, MAX_LABEL_TOKENS), np.int64),
            "general": np.array(general, dtype=np.float32),  # 1.0: a general clip (distillation weight)
        }
        return {**out, "text": np.array(texts, dtype=object)} if self.keep_text else out

    def labels(self, path: str, text: str, duration_s: float) -> np.ndarray:
        words = self.tokenizer.encode(" " + text.strip(), add_special_tokens=False)
        if zlib.crc32(path.encode()) % 1000 < self.timestamp_share * 1000:
            end = self.timestamp_begin + min(N_AUDIO_CTX, round(duration_s / TIME_PRECISION_S))
            tokens = [*self.prefix, self.timestamp_begin, *words, end, self.eot]
        else:
            tokens = [*self.prefix, self.no_timestamps, *words, self.eot]
        out = np.full(MAX_LABEL_TOKENS, IGNORE_INDEX, dtype=np.int64)
        tokens = tokens[:MAX_LABEL_TOKENS]
        out[: len(tokens)] = tokens
        return out


class CTCExamples:
    """Ray Data stage for CTC models: rows -> `audio` (float32 bytes), `labels` (character ids, -100 padded)."""

    def __init__(self, model_dir: str, storage: StorageConfig, keep_text: bool = False) -> None:
        from transformers import AutoProcessor

        self.storage = storage
        self.keep_text = keep_text
        self.processor = AutoProcessor.from_pretrained(model_dir)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        audios, labels, texts = [], [], []
        for path, text, channel in zip(batch["path"], batch["text"], batch["channel"], strict=True):
            audio = _audio(str(path), int(channel), self.storage)
            if audio is None:
                continue
            ids = self.processor.tokenizer(_ctc_text(str(text))).input_ids[:MAX_LABEL_TOKENS]
            out = np.full(MAX_LABEL_TOKENS, IGNORE_INDEX, dtype=np.int64)
            out[: len(ids)] = ids
            audios.append(audio.astype(np.float32).tobytes())
            labels.append(out)
            texts.append(str(text))
        result = {
            "audio": np.array(audios, dtype=object),
            "labels": np.stack(labels) if labels else np.zeros((0, MAX_LABEL_TOKENS), np.int64),
        }
        return {**result, "text": np.array(texts, dtype=object)} if self.keep_text else result


def _ctc_text(text: str) -> str:
    """wav2vec2 English vocabularies are upper-case letters, apostrophes and word separators."""
    return " ".join("".join(ch for ch in text.upper() if ch.isalpha() or ch in "' ").split())


def canonical_rows(rows: Any) -> pa.Table:  # rows: ray.data.Dataset of (path, text, channel)
    """All training rows on the driver, in one order whatever order they were listed in."""
    import ray

    table = pa.concat_tables([ray.get(ref) for ref in rows.to_arrow_refs()]).cast(ROW_SCHEMA)
    return table.sort_by([("path", "ascending"), ("channel", "ascending"), ("text", "ascending")])


def epoch_indices(n_rows: int, seed: int, epoch: int, rank: int, world: int) -> np.ndarray:
    """The rows one worker trains on in one epoch, in order: a permutation seeded by (seed, epoch).

    Every worker gets an equal share (DDP needs the same number of steps on each); the few rows
    left over differ from epoch to epoch. The same (seed, epoch) always gives the same order, so a
    run resumed in the middle of an epoch sees exactly the batches it had not trained on yet.
    """
    order = np.random.default_rng([seed, epoch]).permutation(n_rows)
    share = n_rows // world
    return order[rank * share : (rank + 1) * share]


def epoch_examples(rows: pa.Table, indices: np.ndarray, stage: type, stage_kwargs: dict[str, Any], num_cpus: float):  # noqa: ANN201 (ray.data.Dataset)
    """Model inputs for `rows[indices]`, decoded by Ray Data CPU actors and delivered in that order."""
    import ray.data

    # Ray Data otherwise yields blocks as they finish, which would reorder the epoch.
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    return ray.data.from_arrow(rows.take(indices)).map_batches(
        stage,
        fn_constructor_kwargs=stage_kwargs,
        compute=ray.data.ActorPoolStrategy(size=1),
        batch_size=4,  # small batches keep the first training step close
        num_cpus=num_cpus,
    )
