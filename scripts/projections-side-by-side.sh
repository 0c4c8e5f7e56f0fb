#!/usr/bin/env bash
# Side by side on one machine: this toolkit's t-SNE and UMAP against scikit-learn's and umap-learn's on the same
# float64 input, the two programs alternated ROUNDS times. Needs a Release build and python3 with scikit-learn and
# umap-learn (Debian: apt-get install python3-sklearn umap-learn; $PYTHON picks the interpreter, /usr/bin/python3 by default). Usage:
#   scripts/projections-side-by-side.sh [ROWS=21388] [ROUNDS=2] [PROJECTIONS=tsne,umap]
# or, on real embeddings (`ecg embed --split all` writes them), the toolkit timed by `ecg bench` in its own process:
#   scripts/projections-side-by-side.sh feature_space/session_1/embeddings_all.npz [ROUNDS=2]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export DOTNET_EnableAVX512F=0
if [[ "${1:-}" == *.npz ]]; then
  for round in $(seq 1 "${2:-2}"); do
    echo "round $round"
    dotnet "$here/../Ecg.Cli/bin/Release/net10.0/ecg.dll" bench --stages projections --embeddings "$1" | grep projections
    "${PYTHON:-/usr/bin/python3}" "$here/projections_side_by_side.py" "$1" tsne,umap
  done
  exit 0
fi
rows="${1:-21388}"; rounds="${2:-2}"; projections="${3:-tsne,umap}"
input="$(mktemp -d)/blobs_${rows}.npy"
dotnet fsi "$here/projections-side-by-side.fsx" --input "$input" --write yes --rows "$rows" --projections none 2>/dev/null | grep written || true
for round in $(seq 1 "$rounds"); do
  echo "round $round"
  dotnet fsi "$here/projections-side-by-side.fsx" --input "$input" --projections "$projections"
  "${PYTHON:-/usr/bin/python3}" "$here/projections_side_by_side.py" "$input" "$projections"
done
