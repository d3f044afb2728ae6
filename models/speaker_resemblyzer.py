"""The offline speaker encoder: Resemblyzer's GE2E LSTM, weights from its PyPI wheel.

The `resemblyzer` wheel (Apache-2.0) bundles `resemblyzer/pretrained.pt` (17 MB): a 3-layer LSTM
over 40-band mel power spectra (25 ms windows, 10 ms hop) trained with the GE2E loss. Only the
weights are used: importing the package pulls webrtcvad (which needs `pkg_resources`) and librosa
for its own front end. The mel front end here is torchaudio's, configured as librosa's defaults
that Resemblyzer calls (Slaney mel scale and norm, power 2, centred frames with zero padding); on
a LibriSpeech utterance it matches Resemblyzer's spectrogram to 3e-6 and its partial embeddings
(d-vectors) to a cosine of 0.9999999.

The embedding is not Resemblyzer's d-vector (the last frame's state, projected, ReLU) but the
last LSTM layer's outputs averaged over the window's frames, L2-normalised (256 floats either
way). Measured 2026-12-03 on the diarization dev set (docs/diarization.md): with the d-vector,
one speaker's windows merged at cosine distances up to 0.316 and the two people of one telephone
call at 0.325, too close for a stopping distance to keep apart; with the average, at up to 0.18
and at 0.24.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from models.common.audio import SAMPLE_RATE

N_MELS = 40
WINDOW_SAMPLES = 400  # 25 ms at 16 kHz
HOP_SAMPLES = 160  # 10 ms
HIDDEN = 256
EMBEDDING_DIM = 256
LAYERS = 3
# Resemblyzer normalises each utterance to this loudness (raising quiet ones only) before its mel;
# the LSTM is not scale invariant, so embedding windows are brought to the same level.
TARGET_DBFS = -30.0


def weights_path() -> Path:
    """`pretrained.pt` inside the installed `resemblyzer` package, found without importing it."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the speaker encoder needs the `resemblyzer` package: pip install resemblyzer")
    path = Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"
    if not path.is_file():
        raise RuntimeError(f"resemblyzer is installed but has no weights at {path}")
    return path


class ResemblyzerEncoder:
    """`embed(list of 16 kHz mono float32 arrays) -> (n, 256) float32`, one L2-normalised row each."""

    dim = EMBEDDING_DIM

    def __init__(self, threads: int = 1, device: str = "cpu") -> None:
        import torch
        import torchaudio
        from torch import nn

        class GE2E(nn.Module):
            # Resemblyzer's VoiceEncoder network. Its d-vector, relu(linear(last state)), is kept as
            # `linear` so the checkpoint loads whole; the embedding averages the outputs instead.
            def __init__(self) -> None:
                super().__init__()
                self.lstm = nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
                self.linear = nn.Linear(HIDDEN, EMBEDDING_DIM)

            def forward(self, mels: torch.Tensor) -> torch.Tensor:
                outputs, _ = self.lstm(mels)
                pooled = outputs.mean(dim=1)
                return pooled / torch.norm(pooled, dim=1, keepdim=True).clamp_min(1e-12)

        if threads > 0:
            torch.set_num_threads(threads)
        self._torch = torch
        self.device = device
        self.net = GE2E()
        state = torch.load(weights_path(), map_location="cpu", weights_only=True)["model_state"]
        # The checkpoint also holds GE2E's training-only similarity scale and bias.
        self.net.load_state_dict({k: v for k, v in state.items() if not k.startswith("similarity_")})
        self.net.to(device).eval()
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE,
            n_fft=WINDOW_SAMPLES,
            hop_length=HOP_SAMPLES,
            n_mels=N_MELS,
            power=2.0,
            norm="slaney",
            mel_scale="slaney",
            center=True,
            pad_mode="constant",
        ).to(device)

    def embed(self, clips: list[np.ndarray]) -> np.ndarray:
        if not clips:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        torch = self._torch
        target = 10 ** (TARGET_DBFS / 20)
        out = np.zeros((len(clips), EMBEDDING_DIM), dtype=np.float32)
        # Equal lengths batch together (sliding windows mostly are); no padding enters the LSTM.
        by_length: dict[int, list[int]] = {}
        for i, clip in enumerate(clips):
            by_length.setdefault(clip.shape[0], []).append(i)
        with torch.inference_mode():
            for indices in by_length.values():
                batch = np.stack([clips[i] for i in indices]).astype(np.float32, copy=False)
                rms = np.sqrt(np.mean(batch**2, axis=1, keepdims=True)) + 1e-9
                batch = batch * np.maximum(1.0, target / rms)
                mels = self.mel(torch.from_numpy(batch).to(self.device)).transpose(1, 2)
                out[indices] = self.net(mels).cpu().numpy()
        return out
