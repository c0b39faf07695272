#!/usr/bin/env bash
# Build benchmarks against the peers, measured side by side in one run (issues 3 and 16):
#  - N GPU PyTorchJobs (N = 1,000, 10,000, 50,000; with and without a declared NodePool) built by
#    kiln, by jrsonnet 0.5.0-pre98 and by KCL (kcl-lib 0.13.2), from programs with the same
#    objects and checks (bench/gen.py jobs); outputs are checked equivalent first;
#  - chained pipelines of 100 and 1,000 steps compiled by kiln and by the kfp SDK 2.17.3;
#  - the scaling benchmark (build of 50,000 objects at most 11x that of 5,000).
# Prints a table of medians, peak RSS and peer/kiln ratios. Installs the peers itself, once,
# under the target dir: kfp and kcl-lib from PyPI into venvs, jrsonnet with `cargo install`.
# Usage: bench/run.sh   (BENCH_SIZES=1000,10000 BENCH_STEPS=100 for a shorter run)
# Other benchmarks: `cargo bench -p kiln-compiler --bench compile` and
# `cargo bench -p kiln-reconciler --bench apply` (kiln vs kubectl against the local control plane).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
work="$target/bench-build"
peers="$target/bench-peers"
mkdir -p "$work" "$peers"

cargo build -q --release -p kiln-cli
kiln="$target/release/kiln"
jrsonnet="$peers/jrsonnet/bin/jrsonnet"
if [ ! -x "$jrsonnet" ]; then
  cargo install -q --locked jrsonnet --version 0.5.0-pre98 --root "$peers/jrsonnet"
fi
if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv" && "$work/venv/bin/pip" install -q kfp==2.17.3 pyyaml
fi
if [ ! -x "$work/kcl-venv/bin/python" ]; then
  python3 -m venv "$work/kcl-venv" && "$work/kcl-venv/bin/pip" install -q kcl-lib==0.13.2
fi

sizes="${BENCH_SIZES:-1000,10000,50000}"
steps="${BENCH_STEPS:-100,1000}"
echo "kiln $("$kiln" --version 2>/dev/null || echo '(release)'), $("$jrsonnet" --version), kfp $("$work/venv/bin/python" -c 'import kfp; print(kfp.__version__)'), kcl-lib $("$work/kcl-venv/bin/pip" show kcl-lib | sed -n 's/^Version: //p'); $(nproc) cores"
python3 bench/table.py "$work" "$kiln" "$jrsonnet" "$work/kcl-venv/bin/python" "$work/venv/bin/python" "$sizes" "$steps"

cargo bench -q -p kiln-compiler --bench scaling
