"""Quality and speed: WER/CER, evaluation against references, and benchmarks against faster-whisper."""
