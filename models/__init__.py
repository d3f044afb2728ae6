"""Model backends (CTranslate2, PyTorch), the model resolver, Whisper's features and converters; `common/` is the base."""
