"""A CTranslate2 Whisper folder -> a transformers `WhisperForConditionalGeneration` checkpoint, offline.

CTranslate2's `model.bin` is a flat list of named tensors (`read_model_bin` reads its layout). Its Whisper
spec is the transformers model with the self-attention Q/K/V projections fused into one linear
layer and the cross-attention K/V into another; Whisper's key projections have no bias, so their
slice of a fused bias is zero and is dropped. Weights stored as float16 become float32 (the dtype
training and the CPU backend want); int8-quantised weights are dequantised with their scales.

The tokenizer comes from the folder's `tokenizer.json`; the generation config carries what
openai/whisper-* ships (suppressed tokens, timestamp ids, alignment heads), so
`model.generate(..., return_timestamps=True)` decodes like the CTranslate2 model.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.common.audio import SAMPLE_RATE, TIME_PRECISION_S, is_multilingual

# model.bin dtype codes -> numpy dtypes (bfloat16 is read as raw uint16 and widened below).
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: np.uint16}
# Whisper may open a window with a timestamp of at most 1 s (faster-whisper and openai/whisper).
MAX_INITIAL_TIMESTAMP_S = 1.0


@dataclass(frozen=True)
class CT2Model:
    """The parsed contents of a CTranslate2 `model.bin`."""

    spec: str
    revision: int
    variables: dict[str, np.ndarray]

    def scalar(self, name: str) -> int:
        return int(self.variables[name].reshape(-1)[0])


def read_model_bin(path: Path) -> CT2Model:
    data = Path(path).read_bytes()
    offset = 0

    def take(fmt: str) -> int:
        nonlocal offset
        (value,) = struct.unpack_from("<" + fmt, data, offset)
        offset += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal offset
        length = take("H")  # counts the trailing NUL
        text = data[offset : offset + length - 1].decode("utf-8")
        offset += length
        return text

    version = take("I")
    if version < 5:
        raise ValueError(f"{path}: CTranslate2 model.bin version {version} is not supported (need >= 5)")
    spec = string()
    revision = take("I")
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        dims = [take("I") for _ in range(take("B"))]
        dtype = _DTYPES[take("B")]
        nbytes = take("I")
        array = np.frombuffer(data, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize, offset=offset)
        offset += nbytes
        if dtype is np.uint16:  # bfloat16: the high half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        variables[name] = array.reshape(dims)
    for _ in range(take("I")):
        alias, target = string(), string()
        variables[alias] = variables[target]
    return CT2Model(spec, revision, variables)


def _float(model: CT2Model, name: str) -> np.ndarray:
    """A weight as float32, dequantised when CTranslate2 stored it as int8 with per-row scales."""
    value = model.variables[name]
    scale = model.variables.get(name.replace("/weight", "/weight_scale")) if name.endswith("/weight") else None
    if value.dtype == np.int8 and scale is not None:
        return value.astype(np.float32) / scale.astype(np.float32).reshape(-1, *([1] * (value.ndim - 1)))
    return value.astype(np.float32)


def whisper_state_dict(model: CT2Model) -> dict[str, np.ndarray]:
    """transformers Whisper parameter names -> float32 arrays."""
    if model.spec != "WhisperSpec":
        raise ValueError(f"not a Whisper model: spec {model.spec!r}")
    out: dict[str, np.ndarray] = {}

    def linear(src: str, dst: str, bias: bool = True) -> None:
        out[f"{dst}.weight"] = _float(model, f"{src}/weight")
        if bias:
            out[f"{dst}.bias"] = _float(model, f"{src}/bias")

    def norm(src: str, dst: str) -> None:
        out[f"{dst}.weight"] = _float(model, f"{src}/gamma")
        out[f"{dst}.bias"] = _float(model, f"{src}/beta")

    def split(src: str, dsts: list[str]) -> None:
        """A fused projection -> its parts; the K part (no bias in Whisper) keeps only its weight."""
        weights = np.split(_float(model, f"{src}/weight"), len(dsts))
        biases = np.split(_float(model, f"{src}/bias"), len(dsts))
        for dst, weight, bias in zip(dsts, weights, biases, strict=True):
            out[f"{dst}.weight"] = weight
            if not dst.endswith("k_proj"):
                out[f"{dst}.bias"] = bias

    def block(src: str, dst: str, cross: bool) -> None:
        split(f"{src}/self_attention/linear_0", [f"{dst}.self_attn.{p}_proj" for p in "qkv"])
        linear(f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj")
        norm(f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
        if cross:
            linear(f"{src}/attention/linear_0", f"{dst}.encoder_attn.q_proj")
            split(f"{src}/attention/linear_1", [f"{dst}.encoder_attn.{p}_proj" for p in "kv"])
            linear(f"{src}/attention/linear_2", f"{dst}.encoder_attn.out_proj")
            norm(f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm")
        linear(f"{src}/ffn/linear_0", f"{dst}.fc1")
        linear(f"{src}/ffn/linear_1", f"{dst}.fc2")
        norm(f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")

    for side in ("encoder", "decoder"):
        out[f"model.{side}.embed_positions.weight"] = _float(model, f"{side}/position_encodings/encodings")
        norm(f"{side}/layer_norm", f"model.{side}.layer_norm")
        for i in range(_count_layers(model, side)):
            block(f"{side}/layer_{i}", f"model.{side}.layers.{i}", cross=side == "decoder")
    linear("encoder/conv1", "model.encoder.conv1")
    linear("encoder/conv2", "model.encoder.conv2")
    out["model.decoder.embed_tokens.weight"] = _float(model, "decoder/embeddings/weight")
    out["proj_out.weight"] = _float(model, "decoder/projection/weight")
    return out


def _count_layers(model: CT2Model, side: str) -> int:
    return len({m.group(1) for name in model.variables if (m := re.match(rf"{side}/layer_(\d+)/", name))})


def whisper_config(model: CT2Model, ct2_config: dict):  # noqa: ANN201 (transformers type, imported lazily)
    from transformers import WhisperConfig

    v = model.variables
    vocab_size, d_model = v["decoder/embeddings/weight"].shape
    multilingual = is_multilingual(vocab_size)
    return WhisperConfig(
        vocab_size=int(vocab_size),
        num_mel_bins=int(v["encoder/conv1/weight"].shape[1]),
        d_model=int(d_model),
        encoder_layers=_count_layers(model, "encoder"),
        decoder_layers=_count_layers(model, "decoder"),
        encoder_attention_heads=model.scalar("encoder/num_heads"),
        decoder_attention_heads=model.scalar("decoder/num_heads"),
        encoder_ffn_dim=int(v["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(v["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(v["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(v["decoder/position_encodings/encodings"].shape[0]),
        # Special ids: English-only and multilingual vocabularies differ by one (the <|yue|> slot).
        decoder_start_token_id=50258 if multilingual else 50257,
        bos_token_id=50257,
        eos_token_id=50257 if multilingual else 50256,
        pad_token_id=50257 if multilingual else 50256,
        suppress_tokens=list(ct2_config.get("suppress_ids", [])),
        begin_suppress_tokens=list(ct2_config.get("suppress_ids_begin", [220, 50256])),
        tie_word_embeddings=True,
    )


def generation_config(config, tokenizer, ct2_config: dict):  # noqa: ANN001, ANN201
    """What openai/whisper-* ships as generation_config.json, derived from the vocabulary."""
    from transformers import GenerationConfig

    ids = tokenizer.convert_tokens_to_ids
    multilingual = is_multilingual(config.vocab_size)
    no_timestamps = ids("<|notimestamps|>")
    gen = GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=ids("<|endoftext|>"),
        eos_token_id=ids("<|endoftext|>"),
        pad_token_id=ids("<|endoftext|>"),
        max_length=config.max_target_positions,
        suppress_tokens=list(config.suppress_tokens or []),
        begin_suppress_tokens=list(config.begin_suppress_tokens or []),
        no_timestamps_token_id=no_timestamps,
        prev_sot_token_id=ids("<|startofprev|>"),
        max_initial_timestamp_index=int(round(MAX_INITIAL_TIMESTAMP_S / TIME_PRECISION_S)),
        is_multilingual=multilingual,
        return_timestamps=False,
        alignment_heads=[list(h) for h in ct2_config.get("alignment_heads", [])],
    )
    if multilingual:
        gen.lang_to_id = {tokenizer.convert_ids_to_tokens(i): i for i in ct2_config.get("lang_ids", [])}
        gen.task_to_id = {"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")}
    else:
        # English-only models take no language or task tokens: <|startoftranscript|><|notimestamps|>.
        gen.forced_decoder_ids = [[1, no_timestamps]]
    return gen


def import_ct2(src: Path, dest: Path) -> Path:
    """Write a transformers Whisper checkpoint (weights, configs, tokenizer, processor) to `dest`."""
    import torch
    from transformers import WhisperForConditionalGeneration

    src, dest = Path(src), Path(dest)
    ct2_config = json.loads((src / "config.json").read_text()) if (src / "config.json").exists() else {}
    model_bin = read_model_bin(src / "model.bin")
    config = whisper_config(model_bin, ct2_config)
    tokenizer = load_tokenizer(src)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in whisper_state_dict(model_bin).items()}
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if unexpected or missing:
        raise ValueError(f"weights do not fit the config: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    return write_checkpoint(model, tokenizer, ct2_config, dest)


def write_checkpoint(model, tokenizer, ct2_config: dict, dest: Path) -> Path:  # noqa: ANN001
    """Save a Whisper model with its generation config, tokenizer and feature extractor."""
    from transformers import WhisperFeatureExtractor, WhisperProcessor

    dest = Path(dest)
    model.generation_config = generation_config(model.config, tokenizer, ct2_config)
    model.eval()
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    feature_extractor = WhisperFeatureExtractor(feature_size=model.config.num_mel_bins, sampling_rate=SAMPLE_RATE)
    WhisperProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer).save_pretrained(dest)
    # preprocessor_config.json on its own as well: faster-whisper reads n_mels from it after export-ct2.
    feature_extractor.save_pretrained(dest)
    return dest


def load_tokenizer(folder: Path):  # noqa: ANN201
    """A Whisper tokenizer built offline from a CTranslate2 folder's tokenizer.json."""
    from transformers import WhisperTokenizer

    tokenizer_json = Path(folder) / "tokenizer.json"
    if not tokenizer_json.exists():
        raise FileNotFoundError(f"{folder} has no tokenizer.json")
    return WhisperTokenizer(tokenizer_file=str(tokenizer_json), language=None, task=None)
