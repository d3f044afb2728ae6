"""A general-speech dev set for choosing `voxray improve`'s settings (the WiSE-FT mix, say).

    python scripts/make_general_dev.py --out /tmp/flywheel-domain
    python scripts/make_general_dev.py --real-out /tmp/general_real.jsonl

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
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="write the espeak-ng Harvard dev set here")
    p.add_argument("--real-out", type=Path, help="write the held-out general real-speech manifest here")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.real_out:
        rows = real_general()
        write_jsonl(args.real_out, rows)
        words = sum(len(r["text"].split()) for r in rows)
        print(f"{args.real_out}: {len(rows)} real utterances, {words} words")
    if not args.out:
        return 0
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is required: apt-get install -y espeak-ng")
    out = args.out.resolve()
    rows = speak(HARVARD, out / "general", ARCHIVE_VOICES + HELD_OUT_VOICES, random.Random(args.seed))
    write_jsonl(out / "general_dev.jsonl", rows)
    print(f"{out / 'general_dev.jsonl'}: {len(rows)} clips")
    return 0


def real_general() -> list[dict]:
    """The held-out general real-speech set, checked disjoint from the gate's regression set."""
    from flywheel_wiseft import VOICE_TEXTS, VOICES

    regression = VOICES.parent / "realspeech" / "refs.jsonl"
    used = {json.loads(line)["path"] for line in regression.read_text().splitlines() if line.strip()}
    rows = [{"path": str(VOICES / name), "text": text, "language": "en"} for name, text in VOICE_TEXTS.items()]
    if overlap := used & set(VOICE_TEXTS):
        raise SystemExit(f"held-out clips also in the regression set: {sorted(overlap)}")
    return rows


if __name__ == "__main__":
    sys.exit(main())
