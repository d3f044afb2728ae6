"""Model backends (CTranslate2, PyTorch), loaders and converters."""
