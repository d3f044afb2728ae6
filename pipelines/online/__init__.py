"""Online serving: request-level transcription, the Ray Serve app (OpenAI's audio API) and its load test."""
