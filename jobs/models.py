"""`voxray models import-ct2 SRC DEST` and `voxray models export-ct2 SRC DEST`."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="convert models between CTranslate2 and transformers",
        description="Move Whisper models between the CTranslate2 format (batch pipeline and service) and "
        "transformers checkpoints (fine-tuning and the torch backend).",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = actions.add_parser(
        "import-ct2",
        help="CTranslate2 Whisper folder -> transformers checkpoint",
        description="Convert a CTranslate2 Whisper model (a folder, an s3:// folder, or tiny.en, the bundled "
        "offline model) into a transformers WhisperForConditionalGeneration checkpoint with its config, "
        "generation config, tokenizer and feature extractor. Works offline.",
    )
    imp.add_argument("src", metavar="SRC", help="tiny.en, a local CTranslate2 folder, or an s3:// folder")
    imp.add_argument("dest", metavar="DEST", help="output folder")
    imp.add_argument("--s3-endpoint", help="S3-compatible endpoint URL (or set AWS_ENDPOINT_URL)")
    imp.set_defaults(func=run_import)
    exp = actions.add_parser(
        "export-ct2",
        help="transformers checkpoint -> CTranslate2 folder for `voxray transcribe --model`",
        description="Convert a (fine-tuned) transformers Whisper checkpoint, or a voxray finetune checkpoint "
        "folder, into a CTranslate2 model with CTranslate2's own converter.",
    )
    exp.add_argument("src", metavar="SRC", help="checkpoint folder (config.json inside it or in SRC/model)")
    exp.add_argument("dest", metavar="DEST", help="output folder")
    exp.add_argument(
        "--quantization",
        help="store weights as int8, int8_float16, float16, bfloat16 ... (default: keep float32)",
    )
    exp.add_argument("--force", action="store_true", help="replace DEST if it exists")
    exp.set_defaults(func=run_export)


def run_import(args: argparse.Namespace) -> int:
    from models.common.config import StorageConfig
    from models.ct2_import import import_ct2
    from models.registry import ModelNotFoundError, resolve_model

    try:
        src = resolve_model(args.src, StorageConfig(s3_endpoint=args.s3_endpoint))
        dest = import_ct2(src, args.dest)
    except (ModelNotFoundError, FileNotFoundError, ValueError) as exc:
        print(f"voxray: {exc}", file=sys.stderr)
        return 2
    print(f"imported {src} -> {dest}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from models.ct2_export import export_ct2

    try:
        dest = export_ct2(args.src, args.dest, quantization=args.quantization, force=args.force)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"voxray: {exc}", file=sys.stderr)
        return 2
    print(f"exported {args.src} -> {dest}")
    return 0
