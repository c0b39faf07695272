#!/usr/bin/env bash
# Plans between commits (issue 10) on a generated monorepo of 200 apps / ~10,000 objects:
#  1. a commit touching one app: `kiln plan --git-base --git-head` wall time, peak RSS and the
#     number of apps recompiled (target: 1, under 1 s), with the base's results in the build
#     cache (as in CI, where the base was planned when it was a head) and with a cold cache;
#  2. a commit touching the module every app imports: all 200 apps recompiled, against a clean
#     `kiln build` of the whole repository in the same run (target: at most +20%).
# Usage: bench/gitops.sh [APPS] [WORKLOADS_PER_APP]   (builds kiln in release)
set -euo pipefail
cd "$(dirname "$0")/.."
apps="${1:-200}"
per_app="${2:-10}"
target="${CARGO_TARGET_DIR:-target}"
work="$target/bench-gitops"
rm -rf "$work"
mkdir -p "$work"
cargo build -q --release -p kiln-cli
case "$target" in /*) ;; *) target="$(pwd)/$target" ;; esac
kiln="$target/release/kiln"
repo="$work/repo"

python3 bench/gen_monorepo.py "$repo" "$apps" "$per_app"
g() { git -C "$repo" -c user.name=bench -c user.email=bench@kiln.invalid "$@"; }
g init -q -b main
g add -A && g commit -qm base && g tag base
python3 bench/gen_monorepo.py touch-app "$repo" 17
g commit -qam "touch one app" && g tag one-app
python3 bench/gen_monorepo.py touch-shared "$repo"
g commit -qam "touch the shared module" && g tag shared

objects=$("$kiln" build "$repo/apps" | grep -c '^kind:')
echo "monorepo: $apps apps, $objects objects"

# Wall ms, peak RSS MB and apps recompiled of one `kiln plan`, each run from a copy of the
# given warm cache (so a run never profits from the previous one).
measure() { # name base head warm-cache-dir|-
  local name=$1 base=$2 head=$3 warm=$4 best="" rss="" recompiled=""
  for _ in 1 2 3; do
    rm -rf "$work/cache"
    if [ "$warm" != - ]; then cp -r "$warm" "$work/cache"; else mkdir -p "$work/cache"; fi
    local start end
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$work/rss" "$kiln" plan --repo "$repo" --git-base "$base" --git-head "$head" \
      --cache-dir "$work/cache" --output json >"$work/plan.json"
    end=$(date +%s%N)
    local ms=$(( (end - start) / 1000000 ))
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    rss=$(( $(cat "$work/rss") / 1024 ))
    recompiled=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["apps_recompiled"])' "$work/plan.json")
  done
  echo "$name: best ${best} ms of 3, peak RSS ${rss} MB, apps recompiled ${recompiled}"
  last_ms=$best
}

# The base's results, as CI has them once the base was planned as a head.
"$kiln" plan --repo "$repo" --git-base base --git-head base --cache-dir "$work/warm-base" --output json >/dev/null
"$kiln" plan --repo "$repo" --git-base one-app --git-head one-app --cache-dir "$work/warm-one" --output json >/dev/null

measure "one app, warm cache" base one-app "$work/warm-base"
measure "one app, cold cache" base one-app -
measure "shared module, warm cache" one-app shared "$work/warm-one"
shared_ms=$last_ms

best_build=""
for _ in 1 2 3; do
  start=$(date +%s%N)
  "$kiln" build "$repo/apps" >/dev/null
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  if [ -z "$best_build" ] || [ "$ms" -lt "$best_build" ]; then best_build=$ms; fi
done
echo "clean kiln build of the whole repository: best ${best_build} ms of 3"
python3 -c "print(f'shared-module plan / clean build: {int(\"$shared_ms\") / int(\"$best_build\"):.2f}x')"
