"""An optional speaker encoder: a pyannote.audio embedding model, loaded by Hugging Face id and token.

For sites that can reach the Hugging Face hub and have accepted the model's terms:
`pip install pyannote.audio`, export `HF_TOKEN`, then
`voxray transcribe ... --diarize --speaker-backend pyannote [--speaker-model ID]`.
The default id, `pyannote/wespeaker-voxceleb-resnet34-LM`, is the embedding model of pyannote's
`speaker-diarization-3.1` pipeline. It replaces only the encoder: windows, clustering and
alignment stay voxray's, so embeddings are still computed in the Ray pipeline and memory stays
bounded on long recordings (running pyannote's whole pipeline needs each recording in memory at
once). Not exercised by the offline tests: they cannot download the model.
"""

from __future__ import annotations

import os

import numpy as np

from models.common.audio import SAMPLE_RATE

DEFAULT_MODEL = "pyannote/wespeaker-voxceleb-resnet34-LM"
TOKEN_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")


def hf_token() -> str | None:
    return next((os.environ[name] for name in TOKEN_ENV if os.environ.get(name)), None)


class PyannoteEncoder:
    """`embed(list of 16 kHz mono float32 arrays) -> (n, dim)`, L2-normalised rows."""

    def __init__(self, model_id: str = DEFAULT_MODEL, threads: int = 1, device: str = "cpu") -> None:
        try:
            import torch
            from pyannote.audio import Inference, Model
        except ImportError as exc:
            raise RuntimeError("--speaker-backend pyannote needs pyannote.audio: pip install pyannote.audio") from exc
        if threads > 0:
            torch.set_num_threads(threads)
        token = hf_token()
        try:
            model = Model.from_pretrained(model_id, token=token)  # pyannote.audio >= 4
        except TypeError:
            model = Model.from_pretrained(model_id, use_auth_token=token)  # pyannote.audio 3.x
        if model is None:
            raise RuntimeError(
                f"could not load {model_id} from Hugging Face: accept its terms on the hub and set HF_TOKEN"
            )
        self._torch = torch
        self.inference = Inference(model, window="whole", device=torch.device(device))
        self.dim = int(np.asarray(self._one(np.zeros(SAMPLE_RATE, dtype=np.float32))).shape[-1])

    def _one(self, clip: np.ndarray) -> np.ndarray:
        waveform = self._torch.from_numpy(np.ascontiguousarray(clip, dtype=np.float32))[None]
        return np.asarray(self.inference({"waveform": waveform, "sample_rate": SAMPLE_RATE}), dtype=np.float32)

    def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        if not clips:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.stack([self._one(c).reshape(-1) for c in clips])
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
