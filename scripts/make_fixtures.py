"""Generate voxray's committed audio fixtures: tests/data/{speech,bad,long}/ and samples/.

Every clip is English synthetic speech from espeak-ng reading a known sentence, so transcripts
can be scored (WER) and segment boundaries checked against exact ground truth.

Requirements (only to regenerate; tests do NOT need them, because the output is committed):
  * Debian packages `espeak-ng`, `sox` and `ffmpeg` (``apt-get install -y espeak-ng sox ffmpeg``);
  * the project's virtualenv (numpy, soundfile, av).

Usage::

    .venv/bin/python scripts/make_fixtures.py            # writes into the repository
    .venv/bin/python scripts/make_fixtures.py --root DIR # writes DIR/tests/data and DIR/samples

Deterministic and re-runnable: each output folder is emptied and rebuilt; with the same tool
versions the files come out byte-identical (sox runs with -R and without dither, ffmpeg with
bitexact flags and no metadata, noise comes from seeded generators).

What it writes:

* ``tests/data/speech/``: 24 clips, one distinct sentence each (ordinary words, no digits or
  abbreviations), varied espeak-ng voices and speeds, in many containers, codecs and rates
  (see ``SPEECH``), and ``manifest.jsonl`` with ``{"path", "text", "duration_s"}`` per clip.
  ``duration_s`` is measured by decoding the written file with PyAV (FFmpeg) at 16 kHz, the way
  the pipeline decodes, so lossy-codec padding is accounted for.
* ``tests/data/bad/``: one file per kind of bad input and ``manifest.jsonl`` with
  ``{"path", "expect": "error"|"ok", "why"}``.
* ``tests/data/long/meeting.wav``: about 90 s, 16 kHz mono, ten sentences at known times with
  1-4 s of very low noise between them; ``segments.json`` gives each sentence's text and exact
  ``start_s``/``end_s``. ``stereo_call.wav``: about 40 s, two channels, speakers taking turns
  (the other channel holds only the noise floor); ``stereo_call.json`` lists the turns.
  Both are IMA ADPCM WAVs (4 bits a sample) to keep the repository small; libsndfile and FFmpeg
  decode them.
* ``samples/``: five demo clips (wav, mp3, m4a, flac, ogg), their ``manifest.jsonl``, and a
  corrupt ``broken.mp3``.

Sentence boundaries in the long recordings are exact by construction: each espeak-ng utterance
is resampled to 16 kHz and trimmed to the span from its first to its last sample whose magnitude
reaches ``TRIM_THRESHOLD`` (-40 dBFS), and that span is placed at a whole-millisecond start time.
``end_s`` is the start plus the trimmed length.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf

SAMPLE_RATE = 16_000  # Whisper's input rate; the long recordings are built at this rate
TRIM_THRESHOLD = 0.01  # -40 dBFS: sentence span = first..last sample at least this loud
NOISE_STD = 8 / 32768  # about -72 dBFS of Gaussian noise under the long recordings
SEED = 20_240_601

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Utterance:
    text: str
    voice: str = "en-us"
    speed: int = 160  # espeak-ng words per minute


@dataclass(frozen=True)
class Clip:
    name: str  # file name without extension
    fmt: str  # a key of ENCODERS
    utterance: Utterance


# --- encoders: each turns espeak-ng's 22050 Hz mono WAV into one target format ----------------


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, capture_output=True)


def _sox(*args: str) -> Callable[[Path, Path], None]:
    # -R: repeatable (fixed seeds, no timestamps); -D: no dither, so silence stays silent.
    return lambda src, dest: _run(["sox", "-R", "-D", str(src), *args, str(dest)])


def _ffmpeg(*args: str) -> Callable[[Path, Path], None]:
    def encode(src: Path, dest: Path) -> None:
        _run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), "-vn"]
            + list(args)
            + ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", str(dest)]
        )

    return encode


ENCODERS: dict[str, tuple[str, Callable[[Path, Path], None]]] = {
    "wav16k": (".wav", _sox("-r", "16000", "-b", "16", "-e", "signed-integer")),
    "wav22k": (".wav", _sox("-r", "22050", "-b", "16", "-e", "signed-integer")),
    "wav44k": (".wav", _sox("-r", "44100", "-b", "16", "-e", "signed-integer")),
    "wav16k_stereo": (".wav", _sox("-r", "16000", "-b", "16", "-e", "signed-integer", "-c", "2")),
    "wav8k_mulaw": (".wav", _sox("-r", "8000", "-e", "mu-law", "-b", "8")),
    "flac16k": (".flac", _sox("-r", "16000", "-b", "16")),
    "flac22k": (".flac", _sox("-r", "22050", "-b", "16")),
    "mp3_44k": (".mp3", _ffmpeg("-ar", "44100", "-c:a", "libmp3lame", "-b:a", "64k")),
    "mp3_22k": (".mp3", _ffmpeg("-ar", "22050", "-c:a", "libmp3lame", "-b:a", "32k")),
    "mp3_16k": (".mp3", _ffmpeg("-ar", "16000", "-c:a", "libmp3lame", "-b:a", "32k")),
    "m4a_16k": (".m4a", _ffmpeg("-ar", "16000", "-c:a", "aac", "-b:a", "32k")),
    "m4a_44k": (".m4a", _ffmpeg("-ar", "44100", "-c:a", "aac", "-b:a", "48k")),
    "ogg_opus": (".ogg", _ffmpeg("-ar", "16000", "-c:a", "libopus", "-b:a", "24k")),
    "ogg_vorbis": (".ogg", _ffmpeg("-ar", "16000", "-c:a", "libvorbis", "-q:a", "2")),
    "webm_opus": (".webm", _ffmpeg("-ar", "16000", "-c:a", "libopus", "-b:a", "24k")),
}

# --- the sentences ------------------------------------------------------------------------------

SPEECH: list[Clip] = [
    # 16 kHz mono PCM WAV, the common case: short sentences keep the repository small.
    Clip("01_quick_brown_fox", "wav16k", Utterance("The quick brown fox jumps over the lazy dog.", "en-us", 170)),
    Clip("02_close_the_window", "wav16k", Utterance("Please close the window before you leave.", "en-gb", 160)),
    Clip("03_fresh_bread", "wav16k", Utterance("She bought fresh bread and a jar of honey.", "en-us+f3", 170)),
    Clip("04_late_train", "wav16k", Utterance("The train was late because of the snow.", "en-us+m3", 155)),
    Clip("05_thank_you", "wav16k", Utterance("Thank you so much for your patience.", "en-gb+f2", 150)),
    Clip("06_guitar", "wav16k", Utterance("My brother plays the guitar in a band.", "en-gb-x-rp", 160)),
    Clip("07_sand_castle", "wav16k", Utterance("The children built a castle out of sand.", "en-us+f4", 165)),
    Clip("08_send_the_report", "wav16k", Utterance("Could you send me the report this afternoon?", "en-us", 175)),
    Clip("09_museum", "wav16k", Utterance("The museum opens at noon on weekdays.", "en-gb+m3", 150)),
    Clip("10_gentle_wind", "wav16k", Utterance("A gentle wind moved the leaves across the street.", "en-us+f2", 165)),
    Clip("11_umbrella", "wav16k", Utterance("He forgot his umbrella and walked home in the rain.", "en-gb", 175)),
    Clip("café order ü", "wav16k", Utterance("I would like a cup of tea with milk, please.", "en-gb+f2", 160)),
    # Other rates and layouts.
    Clip("12_library", "wav22k", Utterance("The library has a quiet room for students.", "en-us+m3", 165)),
    Clip("13_good_morning", "wav44k", Utterance("Good morning, and welcome back.", "en-us+f3", 165)),
    Clip("14_coffee_too_hot", "wav16k_stereo", Utterance("The coffee was too hot to drink.", "en-gb+f2", 150)),
    Clip(
        "15_phone_line",
        "wav8k_mulaw",
        Utterance(
            "Turn left at the bakery, walk past the church, and the hotel will be on your right, just after the park.",
            "en-us",
            150,
        ),
    ),
    # Compressed formats carry the longer sentences.
    Clip(
        "16_birds_singing",
        "flac16k",
        Utterance("Birds were singing in the trees as the sun came up over the hills.", "en-gb-x-rp", 150),
    ),
    Clip(
        "17_warm_jacket",
        "flac22k",
        Utterance("Remember to bring a warm jacket, because the mountain air gets cold at night.", "en-us+m3", 155),
    ),
    Clip(
        "18_old_bridge",
        "mp3_44k",
        Utterance(
            "The old bridge across the river was closed for repairs during the summer, "
            "so everyone had to drive through the town instead.",
            "en-us",
            150,
        ),
    ),
    Clip(
        "19_doctor",
        "mp3_22k",
        Utterance("The doctor told him to rest for a few days and drink plenty of water.", "en-gb+f2", 145),
    ),
    Clip(
        "20_fishermen",
        "m4a_16k",
        Utterance("Every evening the fishermen bring their boats back to the harbor.", "en-us+f3", 155),
    ),
    Clip(
        "21_kitchen",
        "m4a_44k",
        Utterance(
            "The kitchen smelled of cinnamon and baked apples all afternoon, and nobody wanted to leave.",
            "en-gb",
            150,
        ),
    ),
    Clip(
        "22_front_door",
        "ogg_opus",
        Utterance(
            "Our neighbors painted their front door a bright shade of green, "
            "and now the whole street wants to do the same.",
            "en-us+m3",
            155,
        ),
    ),
    Clip(
        "23_water_the_garden",
        "webm_opus",
        Utterance("We should water the garden early in the morning, when it is still cool.", "en-us+f2", 165),
    ),
]

MEETING: list[Utterance] = [
    Utterance(
        "Good afternoon and welcome to the weekly planning meeting, "
        "let us start with a careful look at the budget for the spring.",
        "en-us",
        150,
    ),
    Utterance(
        "The design team finished the new website layout last week, "
        "and the early feedback from our customers has been very good.",
        "en-gb+f2",
        150,
    ),
    Utterance(
        "We still need someone to read through the customer letters before we open the new store downtown.",
        "en-us+m3",
        145,
    ),
    Utterance(
        "I can take that task and share a short summary with everyone by tomorrow afternoon, "
        "if that works for the team.",
        "en-us+f3",
        150,
    ),
    Utterance(
        "The next campaign will focus on small family businesses in the northern towns and villages.",
        "en-gb",
        145,
    ),
    Utterance(
        "Please remember that the office will be closed on Monday because of the holiday, so plan your work.",
        "en-us",
        150,
    ),
    Utterance(
        "Our main risk right now is the delay in shipping the printed brochures from the supplier.",
        "en-gb+f2",
        145,
    ),
    Utterance(
        "If the boxes arrive late, we could hand out the brochures at the front door of the store instead.",
        "en-us+m3",
        150,
    ),
    Utterance(
        "If there are no other questions about the launch, we can move on and talk about hiring.",
        "en-us+f3",
        145,
    ),
    Utterance(
        "Thank you all for your time and your good ideas, the meeting is now over and lunch is ready.",
        "en-us",
        150,
    ),
]
MEETING_GAPS_S = [1.0, 3.0, 2.0, 3.5, 2.5, 4.0, 1.5, 3.0, 2.5, 2.0]  # silence before each sentence
MEETING_TAIL_S = 2.0

CALL_A = "en-us+m3"  # channel 0: the hotel's front desk
CALL_B = "en-gb+f2"  # channel 1: the guest
CALL: list[tuple[int, Utterance]] = [
    (0, Utterance("Hello, this is the front desk, how can I help you today?", CALL_A, 155)),
    (1, Utterance("Hi, I would like to move my booking to a later date, if that is possible.", CALL_B, 150)),
    (0, Utterance("Of course, could you tell me your name and the day you planned to arrive?", CALL_A, 155)),
    (1, Utterance("The booking is under my company, and I was going to arrive on Thursday.", CALL_B, 150)),
    (0, Utterance("Thank you, I found it, which day would you like instead?", CALL_A, 155)),
    (1, Utterance("The following Saturday would be perfect, if you have a room free.", CALL_B, 150)),
    (0, Utterance("Yes, we have a quiet room with a garden view for that weekend.", CALL_A, 155)),
    (1, Utterance("Wonderful, please change it and send me a confirmation by email.", CALL_B, 150)),
]
CALL_GAPS_S = [0.8, 0.6, 1.0, 0.7, 1.2, 0.5, 0.9, 0.8]
CALL_TAIL_S = 1.5

SAMPLES: list[Clip] = [
    Clip("welcome", "wav16k", Utterance("This is a short demonstration of batch speech transcription.", "en-us", 160)),
    Clip(
        "weather", "mp3_16k", Utterance("The weather today is sunny with a light breeze from the west.", "en-us", 150)
    ),
    Clip(
        "voicemail",
        "m4a_16k",
        Utterance("Please leave your message after the tone, and we will call you back.", "en-us+f3", 160),
    ),
    Clip(
        "store_hours",
        "flac16k",
        Utterance("Our shop is open every day from early morning until late evening.", "en-us+f3", 150),
    ),
    Clip(
        "delivery",
        "ogg_vorbis",
        Utterance("The package arrived safely and everything inside was in perfect condition.", "en-gb", 150),
    ),
]

# --- helpers ------------------------------------------------------------------------------------


def speak(utterance: Utterance, dest: Path) -> None:
    """espeak-ng's output: 22050 Hz, mono, 16-bit PCM WAV."""
    _run(["espeak-ng", "-v", utterance.voice, "-s", str(utterance.speed), "-w", str(dest), utterance.text])


def decoded_duration(path: Path) -> float:
    """Seconds of audio PyAV decodes from `path`, resampled to 16 kHz mono like the pipeline."""
    samples = 0
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        for frame in container.decode(audio=0):
            samples += sum(f.samples for f in resampler.resample(frame))
        samples += sum(f.samples for f in resampler.resample(None))
    return samples / SAMPLE_RATE


def decodes_nothing(path: Path) -> bool:
    """True when PyAV cannot open `path` or decodes no samples from it (what 'bad' means here)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return True
            return sum(frame.samples for frame in container.decode(audio=0)) == 0
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError, OSError):
        return True


def speech_16k(utterance: Utterance, work: Path) -> np.ndarray:
    """The utterance as 16 kHz int16, trimmed to its first..last sample at `TRIM_THRESHOLD`."""
    raw, resampled = work / "raw.wav", work / "16k.wav"
    speak(utterance, raw)
    ENCODERS["wav16k"][1](raw, resampled)
    audio, rate = sf.read(resampled, dtype="int16")
    assert rate == SAMPLE_RATE
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) >= TRIM_THRESHOLD * 32768)
    return audio[loud[0] : loud[-1] + 1]


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def render_clips(clips: list[Clip], dest: Path, work: Path) -> list[dict]:
    records = []
    for clip in clips:
        extension, encode = ENCODERS[clip.fmt]
        raw = work / "raw.wav"
        speak(clip.utterance, raw)
        out = dest / f"{clip.name}{extension}"
        encode(raw, out)
        records.append({"path": out.name, "text": clip.utterance.text, "duration_s": round(decoded_duration(out), 3)})
    return records


def noise_floor(n: int, channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, NOISE_STD * 32768, size=(n, channels))


def to_int16(mix: np.ndarray) -> np.ndarray:
    return np.clip(np.round(mix), -32768, 32767).astype(np.int16)


def ms(seconds: float) -> int:
    """Samples in `seconds`, rounded to a whole millisecond so times print exactly."""
    return round(seconds * 1000) * SAMPLE_RATE // 1000


# --- the four outputs ---------------------------------------------------------------------------


def make_speech(dest: Path, work: Path) -> None:
    assert len({c.utterance.text for c in SPEECH}) == len(SPEECH), "sentences must be distinct"
    write_jsonl(dest / "manifest.jsonl", render_clips(SPEECH, dest, work))


def make_bad(dest: Path, work: Path) -> None:
    def clip(fmt: str, text: str) -> Path:
        raw, out = work / "raw.wav", work / f"source{ENCODERS[fmt][0]}"
        speak(Utterance(text), raw)
        ENCODERS[fmt][1](raw, out)
        return out

    rng = np.random.default_rng(SEED)
    (dest / "empty.wav").write_bytes(b"")
    real_mp3 = clip("mp3_44k", "This recording was cut off after a few bytes.").read_bytes()
    (dest / "truncated.mp3").write_bytes(real_mp3[:300])
    (dest / "not_audio.wav").write_text(
        "This is a plain text file with a .wav name.\nIt holds no audio at all, only these two lines.\n",
        encoding="utf-8",
    )
    (dest / "random_bytes.flac").write_bytes(rng.bytes(4096))
    with wave.open(str(dest / "zero_length.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(b"")
    (dest / "huge_header.wav").write_bytes(wav_header(data_bytes=0xFFFF_FFF0 - 36))
    sf.write(dest / "silence.wav", np.zeros(3 * SAMPLE_RATE, dtype=np.int16), SAMPLE_RATE, subtype="PCM_16")

    why = {
        "empty.wav": ("error", "zero-byte file"),
        "truncated.mp3": ("error", "first 300 bytes of a real MP3: an ID3 tag and part of the first frame, no audio"),
        "not_audio.wav": ("error", "a text file with an audio extension"),
        "random_bytes.flac": ("error", "4 KiB of seeded random bytes named .flac"),
        "zero_length.wav": ("error", "a valid 44-byte WAV header and no samples"),
        "huge_header.wav": ("error", "a WAV header whose data chunk claims about 4 GB; the file holds no samples"),
        "silence.wav": ("ok", "3 s of digital silence: valid audio that should give empty text, not an error"),
    }
    for name, (expect, _) in why.items():
        assert decodes_nothing(dest / name) == (expect == "error"), f"{name} does not behave as documented"
    write_jsonl(dest / "manifest.jsonl", ({"path": n, "expect": e, "why": w} for n, (e, w) in why.items()))


def wav_header(*, data_bytes: int, rate: int = SAMPLE_RATE, channels: int = 1) -> bytes:
    """A canonical 44-byte PCM-16 WAV header claiming `data_bytes` of samples."""
    block = 2 * channels
    return (
        b"RIFF"
        + (36 + data_bytes).to_bytes(4, "little")
        + b"WAVEfmt "
        + (16).to_bytes(4, "little")
        + (1).to_bytes(2, "little")
        + channels.to_bytes(2, "little")
        + rate.to_bytes(4, "little")
        + (rate * block).to_bytes(4, "little")
        + block.to_bytes(2, "little")
        + (16).to_bytes(2, "little")
        + b"data"
        + data_bytes.to_bytes(4, "little")
    )


def lay_out(
    turns: list[tuple[int, Utterance]], gaps_s: list[float], tail_s: float, channels: int, work: Path
) -> tuple[np.ndarray, list[dict]]:
    """Place each trimmed utterance on its channel after its gap; return the mix and the timeline."""
    placed: list[tuple[int, int, np.ndarray, Utterance]] = []
    cursor = 0
    for (channel, utterance), gap in zip(turns, gaps_s, strict=True):
        speech = speech_16k(utterance, work)
        start = cursor + ms(gap)
        placed.append((channel, start, speech, utterance))
        cursor = start + len(speech)
    total = cursor + ms(tail_s)
    mix = noise_floor(total, channels, SEED + channels)
    timeline = []
    for channel, start, speech, utterance in placed:
        mix[start : start + len(speech), channel] += speech
        timeline.append(
            {
                "channel": channel,
                "start_s": start / SAMPLE_RATE,
                "end_s": (start + len(speech)) / SAMPLE_RATE,
                "text": utterance.text,
                "voice": utterance.voice,
            }
        )
    return to_int16(mix), timeline


def make_long(dest: Path, work: Path) -> None:
    boundary = (
        f"each sentence was resampled to {SAMPLE_RATE} Hz and trimmed to its first..last sample with "
        f"|x| >= {TRIM_THRESHOLD} of full scale (-40 dBFS) before placement; start_s is where that "
        "first sample lies, end_s is just after the last one"
    )
    meeting, timeline = lay_out([(0, u) for u in MEETING], MEETING_GAPS_S, MEETING_TAIL_S, 1, work)
    sf.write(dest / "meeting.wav", meeting[:, 0], SAMPLE_RATE, subtype="IMA_ADPCM")
    segments = [{"text": t["text"], "start_s": t["start_s"], "end_s": t["end_s"]} for t in timeline]
    meta = {
        "file": "meeting.wav",
        "sample_rate": SAMPLE_RATE,
        "duration_s": round(decoded_duration(dest / "meeting.wav"), 3),
        "boundaries": boundary,
        "segments": segments,
    }
    (dest / "segments.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    call, turns = lay_out(CALL, CALL_GAPS_S, CALL_TAIL_S, 2, work)
    sf.write(dest / "stereo_call.wav", call, SAMPLE_RATE, subtype="IMA_ADPCM")
    meta = {
        "file": "stereo_call.wav",
        "sample_rate": SAMPLE_RATE,
        "channels": 2,
        "duration_s": round(decoded_duration(dest / "stereo_call.wav"), 3),
        "speakers": {"0": f"front desk ({CALL_A})", "1": f"guest ({CALL_B})"},
        "boundaries": boundary + "; while one channel speaks the other holds only the noise floor",
        "turns": [{k: t[k] for k in ("channel", "start_s", "end_s", "text")} for t in turns],
    }
    (dest / "stereo_call.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def make_samples(dest: Path, work: Path) -> None:
    records = render_clips(SAMPLES, dest, work)
    write_jsonl(dest / "manifest.jsonl", records)
    # An MP3 whose frames were overwritten: the ID3 tag survives, the audio does not.
    good = (dest / records[1]["path"]).read_bytes()
    broken = good[:10] + np.random.default_rng(SEED + 1).bytes(2048)
    (dest / "broken.mp3").write_bytes(broken)
    assert decodes_nothing(dest / "broken.mp3"), "broken.mp3 must not decode"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=REPO, help="repository root to write into")
    args = parser.parse_args(argv)
    for tool in ("espeak-ng", "sox", "ffmpeg"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} not found: apt-get install -y espeak-ng sox ffmpeg")
    data = args.root / "tests" / "data"
    steps: list[tuple[Path, Callable[[Path, Path], None]]] = [
        (data / "speech", make_speech),
        (data / "bad", make_bad),
        (data / "long", make_long),
        (args.root / "samples", make_samples),
    ]
    with tempfile.TemporaryDirectory(prefix="voxray-fixtures-") as tmp:
        for dest, make in steps:
            make(fresh_dir(dest), Path(tmp))
            size = sum(p.stat().st_size for p in dest.iterdir())
            print(f"{dest.relative_to(args.root)}: {len(list(dest.iterdir()))} files, {size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
