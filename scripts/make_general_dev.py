"""A general-speech dev set for choosing `voxray improve`'s settings (the WiSE-FT mix, say).

    python scripts/make_general_dev.py --out /tmp/flywheel-domain
    python scripts/make_general_dev.py --real-out /tmp/general_real.jsonl
    python scripts/make_general_dev.py --train-out /tmp/flywheel-domain
    python scripts/make_general_dev.py --bundle

`--out` writes OUT/general/*.wav and OUT/general_dev.jsonl: the first five lists of the Harvard sentences
(IEEE Recommended Practice for Speech Quality Measurements, 1969; phonetically balanced everyday
English, nothing of the flywheel domain's telecom), spoken by every espeak-ng voice the domain uses,
at its speeds. Disjoint from the gate's regression set (the bundled real speech) by construction:
the mix is chosen here and on dev.jsonl, never on the regression set or test.jsonl.
Needs espeak-ng (apt-get install -y espeak-ng).

`--real-out` writes the held-out general real-speech set (no espeak-ng): every utterance of real
human speech with a published reference that the repository ships and the gate's default regression
set (tests/data/realspeech/refs.jsonl) does not use. That is the 12 clips of tests/data/voices
(LibriVox "Sense and Sensibility", CMU "cards", CMU ARCTIC awb and slt; 111 words; texts in
scripts/flywheel_wiseft.py). The rest of the repository's real speech is the regression set itself
(tests/data/realspeech), clips of it without a checkable reference, or mixtures of these two folders
(tests/data/speakers); tests/data/speech, tests/data/long and samples/ are espeak-ng. Nothing may
select on this set: scripts/flywheel_general.py scores it before and after.

`--train-out` writes general speech for TRAINING, `voxray improve --general OUT/general_train`:
OUT/general_train/*.wav (no text beside them: the loop labels them with the teacher) and
OUT/general_train_truth.jsonl (the spoken text, for analysis only: the loop never reads it). 60
everyday English sentences written for this purpose (EVERYDAY), spoken by the domain archive's
espeak-ng voices and speeds: what an enterprise's own non-domain calls would be, the same channel
with other words. No sentence of an evaluation set (the Harvard sentences above, tests/data/speech,
the regression and held-out real sets) may be among them: the script refuses to write one.

`--bundle` writes the same 60 clips (same voices and speeds, same seed) into the package as `voxray
improve`'s default `--general` (pipelines/improve/general_speech/, Ogg Opus 24 kbit/s mono, about
half a megabyte against 8.0 MB of espeak-ng WAVs) and, beside that folder, general_speech.jsonl: each
clip's text, voice and speed (for analysis only; the loop never reads it). Needs ffmpeg with
libopus. The encoding is bit-exact, so a rebuild writes the same bytes.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_flywheel_domain import ARCHIVE_VOICES, HELD_OUT_VOICES, speak, write_jsonl  # noqa: E402

HARVARD = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.",
    "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.",
    "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.",
    "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.",
    "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.",
    "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.",
    "What joy there is in living.",
    "A king ruled the state in the early days.",
    "The ship was torn apart on the sharp reef.",
    "Sickness kept him home the third week.",
    "The wide road shimmered in the hot sun.",
    "The lazy cow lay in the cool grass.",
    "Lift the square stone over the fence.",
    "The rope will bind the seven books at once.",
    "Hop over the fence and plunge in.",
    "The friendly gang left the drug store.",
    "Mesh wire keeps chicks inside.",
]


EVERYDAY = [
    "I left my keys on the kitchen table again this morning.",
    "The bus was twenty minutes late because of the snow.",
    "Could you pick up some bread and milk on your way home?",
    "We are planning a small party for my sister's birthday.",
    "The children played in the garden until it got dark.",
    "My grandmother still writes letters by hand every week.",
    "Please remember to water the plants while I am away.",
    "The new library opens at nine on Saturday mornings.",
    "He lost his gloves somewhere between the station and the office.",
    "Dinner will be ready in about half an hour.",
    "She has been learning to play the piano for three years.",
    "The doctor said I should drink more water and sleep longer.",
    "Our flight leaves early, so we should go to bed soon.",
    "The shop on the corner sells the best apples in town.",
    "I think the meeting has been moved to next Thursday.",
    "They painted the fence white last summer.",
    "Turn left at the church and the school is on your right.",
    "My brother fixed the old bicycle in one afternoon.",
    "It was so quiet that we could hear the river below.",
    "The museum was crowded with tourists and school groups.",
    "Would you like tea or coffee after the meal?",
    "The baby finally fell asleep after a long walk.",
    "We watched an old film and shared a bowl of popcorn.",
    "The teacher asked everyone to read the first chapter.",
    "I need to return these books before the end of the month.",
    "The weather should be warmer by the weekend.",
    "He cut his finger while he was slicing onions.",
    "The neighbours have a friendly black dog called Max.",
    "She wrote down the address so she would not forget it.",
    "The train to the city was full of people going to work.",
    "I usually go for a run before breakfast.",
    "The soup needs a little more salt and pepper.",
    "They moved into a bigger house near the park.",
    "Please close the window, it is getting cold in here.",
    "My phone battery died in the middle of the call.",
    "The farmer sold fresh eggs at the market on Sunday.",
    "We got lost on the way and had to ask for directions.",
    "The cat sleeps on the sofa most of the afternoon.",
    "I would rather walk than wait for a taxi.",
    "Her garden is full of roses and tall sunflowers.",
    "The students cheered when the exam results came out.",
    "He always reads the newspaper with his first cup of coffee.",
    "The lights went out during the storm last night.",
    "We should book a table before the restaurant fills up.",
    "My uncle tells the same funny story every holiday.",
    "The road along the coast has beautiful views.",
    "I am not sure whether the post office is open today.",
    "She packed sandwiches and fruit for the long drive.",
    "The old clock in the hall stopped at midnight.",
    "Thank you for helping me carry the boxes upstairs.",
    "The river flooded the fields after a week of rain.",
    "Let us meet outside the cinema at seven.",
    "The kettle is boiling, could you make the tea?",
    "Their son just started his first job at a bakery.",
    "I found an old photograph of my parents in the attic.",
    "The hospital is at the end of this street.",
    "We planted tomatoes and beans in the spring.",
    "He speaks three languages and is learning a fourth.",
    "The price of petrol has gone up again.",
    "Everyone laughed when the dog stole the sausage.",
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="write the espeak-ng Harvard dev set here")
    p.add_argument("--real-out", type=Path, help="write the held-out general real-speech manifest here")
    p.add_argument("--train-out", type=Path, help="write the espeak-ng general TRAINING speech here")
    p.add_argument("--bundle", action="store_true", help=f"write the packaged general speech ({BUNDLE})")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.real_out:
        rows = real_general()
        write_jsonl(args.real_out, rows)
        words = sum(len(r["text"].split()) for r in rows)
        print(f"{args.real_out}: {len(rows)} real utterances, {words} words")
    if not (args.out or args.train_out or args.bundle):
        return 0
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is required: apt-get install -y espeak-ng")
    if args.out:
        out = args.out.resolve()
        rows = speak(HARVARD, out / "general", ARCHIVE_VOICES + HELD_OUT_VOICES, random.Random(args.seed))
        write_jsonl(out / "general_dev.jsonl", rows)
        print(f"{out / 'general_dev.jsonl'}: {len(rows)} clips")
    if args.train_out:
        if overlap := {t.lower() for t in EVERYDAY} & evaluation_texts():
            sys.exit(f"sentences also in an evaluation set: {sorted(overlap)}")
        out = args.train_out.resolve()
        rows = speak(EVERYDAY, out / "general_train", ARCHIVE_VOICES, random.Random(args.seed))
        write_jsonl(out / "general_train_truth.jsonl", rows)
        print(f"{out / 'general_train'}: {len(rows)} clips (spoken text: general_train_truth.jsonl)")
    if args.bundle:
        bundle(args.seed)
    return 0


# `voxray improve`'s default --general: package data (pyproject's package-data lists it).
BUNDLE = Path(__file__).resolve().parents[1] / "pipelines" / "improve" / "general_speech"


def bundle(seed: int) -> None:
    """The --train-out clips, compressed into the package; their record beside the folder."""
    if overlap := {t.lower() for t in EVERYDAY} & evaluation_texts():
        sys.exit(f"sentences also in an evaluation set: {sorted(overlap)}")
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg (with libopus) is required")
    shutil.rmtree(BUNDLE, ignore_errors=True)
    BUNDLE.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = speak(EVERYDAY, Path(tmp) / "general", ARCHIVE_VOICES, random.Random(seed))
        for row in rows:
            name = Path(row["path"]).with_suffix(".opus").name
            encode(Path(tmp) / row["path"], BUNDLE / name)
            row["path"] = f"{BUNDLE.name}/{name}"
    write_jsonl(BUNDLE.with_suffix(".jsonl"), rows)
    size = sum(f.stat().st_size for f in BUNDLE.iterdir())
    print(f"{BUNDLE}: {len(rows)} clips, {size / 1e6:.2f} MB (text, voice, speed: {BUNDLE.name}.jsonl)")


def encode(wav: Path, out: Path) -> None:
    """16 kHz mono Ogg Opus at 24 kbit/s, speech mode; bitexact so a rebuild gives the same bytes."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(wav), "-ac", "1", "-ar", "16000", "-c:a", "libopus",
         "-b:a", "24k", "-application", "voip", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a",
         "+bitexact", str(out)],
        check=True,
    )  # fmt: skip


def real_general() -> list[dict]:
    """The held-out general real-speech set, checked disjoint from the gate's regression set."""
    from flywheel_wiseft import VOICE_TEXTS, VOICES

    from pipelines.improve.run import DEFAULT_REGRESSION

    used = {Path(json.loads(line)["source"]).name for line in DEFAULT_REGRESSION.read_text().splitlines() if line}
    rows = [{"path": str(VOICES / name), "text": text, "language": "en"} for name, text in VOICE_TEXTS.items()]
    if overlap := used & set(VOICE_TEXTS):
        raise SystemExit(f"held-out clips also in the regression set: {sorted(overlap)}")
    return rows


def evaluation_texts() -> set[str]:
    """Every reference text of the sets the loop and its evaluation score on, lowercased."""
    data = Path(__file__).resolve().parents[1] / "tests" / "data"
    texts = set(HARVARD) | {r["text"] for r in real_general()}
    from pipelines.improve.run import DEFAULT_REGRESSION

    for manifest in (DEFAULT_REGRESSION, data / "realspeech" / "refs.jsonl", data / "speech" / "manifest.jsonl"):
        if manifest.exists():
            texts |= {json.loads(line).get("text", "") for line in manifest.read_text().splitlines() if line.strip()}
    return {t.strip().lower() for t in texts}


if __name__ == "__main__":
    sys.exit(main())
