"""Speaker diarization: embeddings in the CPU stage (embed), clustering per recording (cluster),
speaker labels on segments and words (align)."""
