"""The nightly transcript store: what is committed in DEST, what a run must still do, and the nightly run."""
