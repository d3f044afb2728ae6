"""Diarization settings (`--diarize`, the `diarize:` section of a YAML config): typed, frozen, validated.

Lives with the code it tunes; pipelines.config re-exports it as part of TranscribeConfig, and
nothing in pipelines.speakers imports pipelines.config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from models.common.config import NonNegativeFloat

SpeakerBackend = Literal["resemblyzer", "pyannote"]
ClusterLinkage = Literal["weighted", "average"]
CountMethod = Literal["vbx", "ahc"]


@dataclass(frozen=True)
class DiarizeConfig:
    """Who spoke when (`--diarize`): speaker embeddings over VAD speech, clustered per recording."""

    enabled: bool = False
    # Exactly this many speakers, or a range; neither: estimated from the embeddings.
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    # resemblyzer: the offline encoder in the `resemblyzer` wheel; pyannote: a pyannote.audio
    # embedding model from Hugging Face (`model`, token from HF_TOKEN), for sites online.
    backend: SpeakerBackend = "resemblyzer"
    model: str | None = None
    # Embedding windows slide over each stretch of speech: GE2E's 1.6 s partials, half overlapping.
    window_s: float = 1.6
    step_s: float = 0.8
    # Padding of the speech stretches that speaker windows (and so turns) cover. The ASR's VAD
    # pads 0.4 s, which made turns run 0.4 s into every pause: most of the DER left with correct
    # labels. Chosen on the dev set (DER with each window given its true speaker, mean of four
    # recordings): 0.05 s 1.8%, 0.10 s 1.8%, 0.15 s 2.5%, 0.40 s 8.7%.
    speech_pad_s: NonNegativeFloat = 0.1
    # How the merge tree measures the distance between two clusters: "weighted" (WPGMA: the mean
    # of the two merged clusters' distances, each weighing the same whatever its size) or
    # "average" (UPGMA, used until 2026-12-06). Chosen on the evaluation set's dev split (24 mixes
    # of 2-6 speakers, tools/bench/diarize_evalset.py): weighted keeps a speaker who says
    # little apart from one who says much; mean DER 9.4-9.9% against 10.4-11.1% at the best stops.
    linkage: ClusterLinkage = "weighted"
    # Cosine distance at which the tree stops merging, for the resemblyzer encoder's embeddings.
    # Dev split, weighted linkage, minimum share 4%, with resegmentation (mean DER / count right):
    # 0.17 10.7%/50%, 0.18 10.5%/62%, 0.19 9.4%/71%, 0.20 9.7%/67%, 0.21 11.0%/54%, 0.22 11.4%/46%.
    threshold: float = 0.195
    # An estimated cluster smaller than this share of a recording's windows is folded into the
    # nearest larger one (a cough or a laugh is not a speaker). Dev split, at 0.19: 4% 9.4%/71%,
    # 6% 9.9%/62%, 8% 9.9%/50% (a sixth speaker may say little).
    min_cluster_share: float = 0.04
    # Resegmentation: each window's speaker is chosen again by Viterbi over the recording's windows,
    # scored by cosine similarity to the speakers' centroids, less a penalty for every change of
    # speaker: a change inside a stretch of speech costs `switch_penalty`, one across a pause
    # `pause_switch_penalty`; the centroids are re-estimated `resegment_passes` times (0: off).
    # A lone window that flips to a similar voice mid-turn is what this removes. Dev split:
    # 10.1% without, 8.9-9.6% with penalties 0.1-0.4 (0.2 and 0.1 chosen, inside that plateau).
    switch_penalty: NonNegativeFloat = 0.2
    pause_switch_penalty: NonNegativeFloat = 0.1
    resegment_passes: int = 2
    # How the count is estimated when it is not given: "vbx" (since 2026-12-06; Bayesian HMM
    # clustering, pipelines/speakers/vbx.py, started from the merge tree stopped early at
    # `vbx_init_threshold`, in the PLDA space of pipelines/speakers/plda_resemblyzer.npz) or "ahc"
    # (the merge tree stopped at `threshold`, the method until then). VBx's PLDA is trained for the
    # resemblyzer encoder, so the pyannote backend always uses "ahc".
    count_method: CountMethod = "vbx"
    vbx_init_threshold: float = 0.15
    # VBx: the chance that a speaker keeps the floor from one window to the next (0.8 s later);
    # `vbx_fa` scales the windows' evidence (overlapping windows are not independent), `vbx_fb`
    # the speaker prior (larger: fewer speakers); the first clustering's hard labels are softened
    # to softmax(vbx_init_smoothing * one-hot). Chosen on the dev split (120 mixes, PLDA trained on
    # the other half of them): every loop_prob 0.7-0.95 with fa 0.2-0.4 and fb 5-15 (fa/fb
    # 0.025-0.04) found 96-104 counts of 120 (the tree's stop: 78); init 0.12-0.15 with smoothing
    # 5-7: 103-104, 0.195: 94, 0.10 with smoothing 3: 89. See docs/diarization.md.
    vbx_loop_prob: float = 0.9
    vbx_fa: float = 0.25
    vbx_fb: float = 7.0
    vbx_init_smoothing: NonNegativeFloat = 5.0
    # Over more windows than this, vbx_fa is scaled by sqrt(vbx_evidence_windows / windows).
    # Without it VBx splits speakers as recordings grow (the PLDA's within-speaker variance is one
    # mix's; a long recording holds more of a speaker's variety): 12 dev mixes repeated 4 and 16
    # times (with jitter) found 16 of 36 counts right, 26 with it (the mixes as they are: 8 of 12);
    # scaling Fa and Fb by the ratio itself instead: 25, but 2 of 4 speakers on the four-speaker
    # fixture tiled to 3 hours (with the square root: 4 of 4, and dev mixes of 2, 4 and 6 speakers
    # tiled to 11,000 windows all right). The evaluation set's mixes have at most 115 windows, so
    # nothing there changes.
    vbx_evidence_windows: int = 150
    # Clustering sees at most this many windows (evenly spread); the rest join the nearest
    # centroid. Average linkage needs n^2 memory: this keeps a 3-hour recording bounded.
    max_cluster_windows: int = 2000

    def __post_init__(self) -> None:
        counts = {
            "num_speakers": self.num_speakers,
            "min_speakers": self.min_speakers,
            "max_speakers": self.max_speakers,
        }
        for name, value in counts.items():
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"--{name.replace('_', '-')} must be a whole number of at least 1, not {value!r}")
        if self.num_speakers is not None and (self.min_speakers is not None or self.max_speakers is not None):
            raise ValueError("give --num-speakers or --min-speakers/--max-speakers, not both")
        if self.min_speakers is not None and self.max_speakers is not None and self.min_speakers > self.max_speakers:
            raise ValueError(f"--min-speakers {self.min_speakers} is more than --max-speakers {self.max_speakers}")
        if not self.enabled and any(v is not None for v in counts.values()):
            raise ValueError("--num-speakers, --min-speakers and --max-speakers need --diarize")
        if self.backend not in ("resemblyzer", "pyannote"):
            raise ValueError(f"unknown speaker backend {self.backend!r}: use resemblyzer or pyannote")
        if self.model is not None and self.backend != "pyannote":
            raise ValueError("--speaker-model is for --speaker-backend pyannote")
        if not 0 < self.step_s <= self.window_s:
            raise ValueError("diarize.step_s must be positive and at most diarize.window_s")
        if self.linkage not in ("weighted", "average"):
            raise ValueError(f"diarize.linkage must be weighted or average, not {self.linkage!r}")
        if not isinstance(self.resegment_passes, int) or self.resegment_passes < 0:
            raise ValueError("diarize.resegment_passes must be a whole number of at least 0")
        if not 0 < self.threshold < 2 or not 0 < self.vbx_init_threshold < 2:
            raise ValueError("diarize.threshold and diarize.vbx_init_threshold are cosine distances between 0 and 2")
        self._check_vbx()

    def _check_vbx(self) -> None:
        if self.count_method not in ("vbx", "ahc"):
            raise ValueError(f"diarize.count_method must be vbx or ahc, not {self.count_method!r}")
        if not 0 < self.vbx_loop_prob < 1:
            raise ValueError(f"diarize.vbx_loop_prob must lie strictly between 0 and 1, not {self.vbx_loop_prob!r}")
        if not (self.vbx_fa > 0 and self.vbx_fb > 0):
            raise ValueError("diarize.vbx_fa and diarize.vbx_fb must be positive")
        if not isinstance(self.vbx_evidence_windows, int) or self.vbx_evidence_windows < 1:
            raise ValueError("diarize.vbx_evidence_windows must be a whole number of at least 1")
