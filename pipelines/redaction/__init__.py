"""PII redaction of transcripts (text) and of the recordings themselves (audio)."""
