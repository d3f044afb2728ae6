"""Which decoding each of the loop's passes uses: the teacher's labels packed, the rest as users run."""

from __future__ import annotations

from dataclasses import replace

from models.common.config import StorageConfig
from pipelines.batch.packing import packs_short_clips
from pipelines.improve.passes import model_config, teacher_config


def test_the_teacher_labels_packed_windows_and_the_production_pass_keeps_the_defaults() -> None:
    storage = StorageConfig()
    teacher = teacher_config("tiny.en", storage, language="en", hotwords="Veltrix, Roamshield")
    production = model_config("tiny.en", storage)
    # Packed windows gave the teacher better labels (docs/finetune.md); the production pass and the
    # gate score what `voxray transcribe` runs, whose short clips get their own encoder passes.
    assert packs_short_clips(teacher) and not packs_short_clips(production)
    assert production.model.clip_input.splice == "own"
    # Nothing else differs: same model settings but the teacher's language and hotwords.
    assert teacher.model == replace(production.model, language="en", hotwords="Veltrix, Roamshield")
    assert replace(teacher.chunking, pack_short_clips=None) == production.chunking
    assert teacher.fingerprint() != model_config("tiny.en", storage, "en", "Veltrix, Roamshield").fingerprint()
