#!/usr/bin/env bash
# Times `ecg feature-space --split all` of two builds on the same session's saved embeddings, alternated ROUNDS
# times (wall and peak RSS from /usr/bin/time, and the stage's own step timings). Build the older commit in a
# worktree first, e.g. `git worktree add /tmp/before <commit> && (cd /tmp/before && dotnet build Ecg.Cli -c Release)`,
# and run `ecg embed --session N --split all` once so both builds reuse the same embeddings. Usage:
#   scripts/feature-space-before-after.sh BEFORE_REPO SESSION [ROUNDS=2]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
before="$1"; session="$2"; rounds="${3:-2}"
export DOTNET_EnableAVX512F=0
out="$(mktemp -d)"
for round in $(seq 1 "$rounds"); do
  for build in before after; do
    if [ "$build" = before ]; then repo="$before"; else repo="$here"; fi
    /usr/bin/time -f "%e s, peak RSS %M KB" dotnet "$repo/Ecg.Cli/bin/Release/net10.0/ecg.dll" feature-space \
      --session "$session" --split all > "$out/$build-$round.log" 2> "$out/$build-$round.time"
    echo "round $round $build: $(tail -1 "$out/$build-$round.time") | $(grep -a '^elapsed' "$out/$build-$round.log")"
  done
done
