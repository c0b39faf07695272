#!/usr/bin/env bash
# Runs both fuzz targets for a bounded time: `bash fuzz/run.sh [SECONDS]` (check_eval gets
# SECONDS, parse a quarter of it). Needs cargo-fuzz on PATH. Seeds check_eval with the
# repository's .kiln files (prefixed with the byte 0, "take as source text"). Prints each run's
# executions and exits non-zero on a finding (libFuzzer keeps the input under fuzz/artifacts/).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-240}"
toolchain=()
sanitizer=()
toolchains="$(rustup toolchain list 2>/dev/null || true)"
if [[ "$toolchains" == *nightly* ]]; then
  toolchain=(+nightly)
else
  sanitizer=(--sanitizer none)
fi
corpus=fuzz/corpus/check_eval
mkdir -p "$corpus" fuzz/corpus/parse
for f in examples/*/*.kiln examples/*.kiln stdlib/*.kiln; do
  [[ -f "$f" ]] || continue
  name="seed-$(echo "$f" | tr '/' '_')"
  { printf '\0'; cat "$f"; } >"$corpus/$name"
  cp "$f" "fuzz/corpus/parse/$name"
done
run() {
  local target="$1" secs="$2" status=0
  echo "fuzz: $target for ${secs}s (${toolchain[*]:-stable} ${sanitizer[*]:-})"
  cargo "${toolchain[@]}" fuzz run "${sanitizer[@]}" "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
    >"fuzz/$target.log" 2>&1 || status=$?
  # The last status line (executions, coverage, corpus), the final stats and any finding.
  grep -E '^#[0-9]+' "fuzz/$target.log" | tail -n 1 || true
  grep -E '^stat::|SUMMARY|panicked|ERROR' "fuzz/$target.log" || true
  if ((status != 0)); then
    tail -n 60 "fuzz/$target.log"
    echo "fuzz: $target found a problem (exit $status); the input is under fuzz/artifacts/$target/" >&2
  fi
  return "$status"
}
run parse $((seconds / 4))
run check_eval "$seconds"
