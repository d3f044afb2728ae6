#!/bin/sh
# Makes the committed hostile fixture (needs ffmpeg): 10 hours of digital silence at 8 kHz in 72 KB of
# FLAC (frames of 65535 samples, each a few bytes), a "decompression bomb" that declares 10 h.
# The other hostile files of tests/test_hostile.py are built in memory by the tests.
set -e
cd "$(dirname "$0")"
ffmpeg -v error -y -f lavfi -i anullsrc=r=8000:cl=mono -t 36000 -c:a flac -frame_size 65535 \
    -compression_level 8 silence10h.flac
