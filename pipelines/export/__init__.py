"""Writers: transcript rows -> srt/vtt/txt/json text, and export of a transcript dataset to files."""
