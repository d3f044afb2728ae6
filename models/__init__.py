"""Model backends (CTranslate2, PyTorch), model resolution, Whisper's features, converters; `common/` is the base."""
