#!/usr/bin/env bash
# Build benchmarks with peers measured in the same run (issue 3):
#  1. `kiln build` of a generated repository of 2,000 mixed workloads: wall time, peak RSS,
#     number of manifests;
#  2. a 100-step chained pipeline compiled by the real kfp SDK (PyPI `kfp`) and by kiln; ratio.
# Usage: bench/run.sh   (builds kiln in release; installs kfp into a venv under target/ once)
# The other benchmarks are cargo benches: `cargo bench -p kiln-compiler --bench compile` (issue 2)
# and `cargo bench -p kiln-reconciler --bench apply` (issue 5: kiln vs kubectl on 1,000 objects
# against the local control plane).
set -euo pipefail
cd "$(dirname "$0")/.."
work="${CARGO_TARGET_DIR:-target}/bench-build"
mkdir -p "$work"
cargo build -q --release -p kiln-cli
kiln="${CARGO_TARGET_DIR:-target}/release/kiln"

python3 bench/gen.py repo "$work/repo" 2000
python3 bench/gen.py chain "$work/chain.kiln" 100

best() { # best wall ms of 5 runs of "$@", output discarded
  python3 - "$@" <<'PY'
import subprocess, sys, time
runs = []
for _ in range(5):
    t = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); runs.append((time.perf_counter() - t) * 1000)
print(f"{min(runs):.1f}")
PY
}

manifests=$("$kiln" build "$work/repo" | grep -c '^kind:')
repo_ms=$(best "$kiln" build "$work/repo")
rss_kb=$( { /usr/bin/time -f '%M' "$kiln" build "$work/repo" >/dev/null; } 2>&1 | tail -1)
echo "kiln build, 2000 workloads -> $manifests manifests: best ${repo_ms} ms, peak RSS $((rss_kb / 1024)) MB"

if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv" && "$work/venv/bin/pip" install -q kfp
fi
kfp_ms=$("$work/venv/bin/python" bench/kfp_pipeline100.py 100)
kiln_ms=$(best "$kiln" build "$work/chain.kiln")
echo "100-step pipeline: kfp $("$work/venv/bin/python" -c 'import kfp; print(kfp.__version__)') ${kfp_ms} ms (compile call, median of 5), kiln ${kiln_ms} ms (whole process, best of 5)"
python3 -c "print(f'ratio kfp/kiln: {float(\"$kfp_ms\") / float(\"$kiln_ms\"):.1f}x')"
