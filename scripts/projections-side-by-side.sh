#!/usr/bin/env bash
# Side by side on one machine: this toolkit's t-SNE and UMAP against scikit-learn's and umap-learn's on the same
# float64 input, the two programs alternated ROUNDS times. Needs a Release build and python3 with scikit-learn and
# umap-learn (Debian: apt-get install python3-sklearn umap-learn; $PYTHON picks the interpreter, /usr/bin/python3 by default). Usage:
#   scripts/projections-side-by-side.sh [ROWS=21388] [ROUNDS=2] [PROJECTIONS=tsne,umap]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rows="${1:-21388}"; rounds="${2:-2}"; projections="${3:-tsne,umap}"
input="$(mktemp -d)/blobs_${rows}.npy"
export DOTNET_EnableAVX512F=0
dotnet fsi "$here/projections-side-by-side.fsx" --input "$input" --write yes --rows "$rows" --projections none 2>/dev/null | grep written || true
for round in $(seq 1 "$rounds"); do
  echo "round $round"
  dotnet fsi "$here/projections-side-by-side.fsx" --input "$input" --projections "$projections"
  "${PYTHON:-/usr/bin/python3}" "$here/projections_side_by_side.py" "$input" "$projections"
done
