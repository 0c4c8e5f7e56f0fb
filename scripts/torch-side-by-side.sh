#!/usr/bin/env bash
# Side by side on one machine: training and inference throughput of this toolkit (TorchSharp in float32 and bfloat16
# mixed precision, ONNX Runtime) against PyTorch (python3-torch; float32, and bfloat16 under torch.autocast) on the
# same networks, batch and input length, random input; `ecg bench` and scripts/torch_speed.py alternated ROUNDS times.
# Needs a Release build (./build.sh -t Build) and python3 with torch (Debian: apt-get install python3-torch;
# $PYTHON picks the interpreter, /usr/bin/python3 by default). Usage:
#   scripts/torch-side-by-side.sh [MODELS=cross-lead-cnn] [ROUNDS=3] [BATCH=128] [LENGTH=250] [STEPS=10] [PRECISIONS=float32,bfloat16]
# (PRECISIONS float32 alone on CPUs without AVX512-BF16 or AMX-BF16, where both libraries emulate bfloat16.)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
models="${1:-cross-lead-cnn}"; rounds="${2:-3}"; batch="${3:-128}"; length="${4:-250}"; steps="${5:-10}"; precisions="${6:-float32,bfloat16}"
ecg="$here/../Ecg.Cli/bin/${CONFIGURATION:-Release}/net10.0/ecg.dll"
[ -f "$ecg" ] || { echo "error: $ecg is missing: run ./build.sh -t Build first." >&2; exit 1; }
export DOTNET_EnableAVX512F=0
for round in $(seq 1 "$rounds"); do
  echo "round $round"
  dotnet "$ecg" bench --stages train,engines --models "$models" --batch-sizes "$batch" --lengths "$length" \
    --steps "$steps" --rounds 1 --precisions "$precisions" | grep -E "^(train|inference)"
  "${PYTHON:-/usr/bin/python3}" "$here/torch_speed.py" "$models" "$batch" "$length" "$steps" "$precisions"
done
