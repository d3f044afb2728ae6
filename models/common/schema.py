"""The one explicit output schema of voxray transcripts (documented in README.md)."""

from __future__ import annotations

import pyarrow as pa

STATUS_OK = "ok"
STATUS_ERROR = "error"

WORD_TYPE = pa.struct(
    [
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("word", pa.string()),
        ("probability", pa.float32()),
        ("speaker", pa.string()),  # with --diarize: SPEAKER_1, SPEAKER_2, ... (null otherwise)
    ]
)

SEGMENT_TYPE = pa.struct(
    [
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("text", pa.string()),
        ("avg_logprob", pa.float32()),
        ("no_speech_prob", pa.float32()),
        ("compression_ratio", pa.float32()),
        ("temperature", pa.float32()),
        # True when the segment failed Whisper's hallucination guards even after fallback.
        ("flagged", pa.bool_()),
        ("channel", pa.int32()),
        ("words", pa.list_(WORD_TYPE)),
        ("speaker", pa.string()),  # with --diarize
    ]
)

# One redacted entity: its type, where it was spoken, and where its tag sits in `text` (character
# offsets). The original value is never kept.
REDACTION_TYPE = pa.struct(
    [
        ("type", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("start", pa.int32()),
        ("end", pa.int32()),
    ]
)

TRANSCRIPT_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("channel", pa.int32()),  # null in --channels mix; the channel index in split mode
        ("status", pa.string()),
        ("error", pa.string()),
        ("size_bytes", pa.int64()),
        ("duration_s", pa.float64()),
        ("sample_rate", pa.int32()),
        ("channels", pa.int32()),
        ("language", pa.string()),
        ("language_probability", pa.float32()),
        ("text", pa.string()),
        ("segments", pa.list_(SEGMENT_TYPE)),
        ("model", pa.string()),
        ("config_fingerprint", pa.string()),
        ("run_id", pa.string()),
        ("processing_s", pa.float64()),
        ("transcribed_at", pa.timestamp("us", tz="UTC")),
        # With --redact: what was redacted (null when redaction is off); with --redact-audio: the copy.
        ("redactions", pa.list_(REDACTION_TYPE)),
        ("redacted_audio", pa.string()),
        # With --diarize: the row's speakers in order of first appearance (null otherwise).
        ("speakers", pa.list_(pa.string())),
    ]
)

# The nightly store's Delta table (pipelines/store/table.py): the transcript columns plus what
# the to-do list needs per row, and the date partition (from transcribed_at, UTC).
STORE_SCHEMA = pa.schema(
    list(TRANSCRIPT_SCHEMA)
    + [
        pa.field("source_version", pa.string()),  # the input's ETag, or size:mtime, when it was read
        pa.field("attempts", pa.int32()),  # failed runs so far for this version (0 when ok)
        pa.field("quarantined", pa.bool_()),  # failed max_attempts times: the dead letter
        pa.field("date", pa.string()),  # partition column, YYYY-MM-DD
    ]
)
