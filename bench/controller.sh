#!/usr/bin/env bash
# `kiln controller` on a generated monorepo of 200 apps / ~10,000 objects (issue 11), against a
# control plane of its own (scripts/control-plane.sh, kube-apiserver + etcd + controller-manager;
# the upstream CRDs installed from $KILN_SHARED/crds):
#  1. first convergence: every app applied from the branch head;
#  2. a commit touching one app, announced by a signed GitHub push webhook: time from the
#     webhook to /status showing that app applied at the new commit (target < 1 s), apps
#     recompiled (target 1), objects written (target: the changed ones only);
#  3. resyncs without drift: writes of any kind during two resync passes (target 0);
#  4. the controller's peak RSS (VmHWM) while managing the objects (target < 64 MiB).
# Usage: bench/controller.sh [APPS] [WORKLOADS_PER_APP]   (builds kiln in release)
set -euo pipefail
cd "$(dirname "$0")/.."
apps="${1:-200}"
per_app="${2:-10}"
shared="${KILN_SHARED:-../shared}"
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$(pwd)/$target" ;; esac
work="$target/bench-controller"
export CP_STATE_DIR="$work/control-plane"
[[ -d "$shared/crds" ]] || { echo "no upstream CRDs in $shared/crds (set KILN_SHARED)" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "kubectl is needed to install the CRDs" >&2; exit 1; }

cleanup() {
  [[ -n "${ctl_pid:-}" ]] && kill "$ctl_pid" 2>/dev/null && wait "$ctl_pid" 2>/dev/null
  bash scripts/control-plane.sh down >/dev/null 2>&1 || true
}
trap cleanup EXIT
bash scripts/control-plane.sh down >/dev/null 2>&1 || true
rm -rf "$work"
mkdir -p "$work"
cargo build -q --release -p kiln-cli
kiln="$target/release/kiln"
eval "$(bash scripts/control-plane.sh up 2>/dev/null | grep '^export')"
kubectl apply --server-side -R -f "$shared/crds" >/dev/null
kubectl wait --for condition=established --timeout=120s crd --all >/dev/null
for ns in kiln-system $(seq -f 'team-%g' 0 19); do kubectl create namespace "$ns" >/dev/null; done

repo="$work/repo"
python3 bench/gen_monorepo.py "$repo" "$apps" "$per_app"
g() { git -C "$repo" -c user.name=bench -c user.email=bench@kiln.invalid "$@"; }
g init -q -b main
g add -A && g commit -qm base
objects=$("$kiln" build "$repo/apps" | grep -c '^kind:')
echo "monorepo: $apps apps, $objects objects"

port=$((20000 + RANDOM % 20000))
printf 's3cret' >"$work/secret"
"$kiln" controller --repo "$repo" --branch main --interval 1h --resync 20s \
  --listen "127.0.0.1:$port" --webhook-secret-file "$work/secret" --cache-dir "$work/cache" \
  --kubeconfig "$KUBECONFIG" --identity bench 2>"$work/controller.log" &
ctl_pid=$!

# Polls /status until the Python condition on `s` (the parsed JSON) holds; prints the seconds.
wait_status() { # condition timeout-seconds
  python3 - "$port" "$1" "$2" <<'EOF'
import json, sys, time, urllib.request
port, cond, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
start = time.monotonic()
while True:
    try:
        s = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5))
        if eval(cond):
            print(f"{time.monotonic() - start:.3f}")
            break
    except OSError:
        pass
    if time.monotonic() - start > limit:
        sys.exit(f"timed out after {limit}s waiting for: {cond}")
    time.sleep(0.02)
EOF
}
status() { curl -sf "http://127.0.0.1:$port/status"; }
field() { python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }

head=$(g rev-parse HEAD)
t=$(wait_status "len(s['apps']) == $apps and all(a.get('last_applied_commit') == '$head' and a['condition'] == 'Ready' for a in s['apps'].values())" 900)
echo "first convergence: ${t} s for $apps apps"

# 2. One app changed, announced by a webhook.
before=$(status)
python3 bench/gen_monorepo.py touch-app "$repo" 17
g commit -qam "touch one app"
head=$(g rev-parse HEAD)
body="{\"ref\":\"refs/heads/main\",\"after\":\"$head\"}"
sig="sha256=$(printf '%s' "$body" | openssl dgst -sha256 -hmac s3cret -r | cut -d' ' -f1)"
python3 - "$port" "$body" "$sig" "$head" "$apps" >"$work/webhook" <<'EOF'
import json, sys, time, urllib.request
port, body, sig, head = sys.argv[1], sys.argv[2].encode(), sys.argv[3], sys.argv[4]
start = time.monotonic()
req = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data=body, method="POST",
                             headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": sig,
                                      "Content-Type": "application/json"})
code = urllib.request.urlopen(req, timeout=10).status
while True:
    s = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5))
    if s["apps"]["app-017"].get("last_applied_commit") == head:
        break
    time.sleep(0.005)
print(f"{time.monotonic() - start:.3f} {code}")
EOF
read -r latency code <"$work/webhook"
after=$(status)
python3 - "$before" "$after" "$latency" "$code" <<'EOF'
import json, sys
b, a, latency, code = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
recompiled = [n for n in a["apps"] if a["apps"][n]["compiles"] != b["apps"][n]["compiles"]]
written = {n: a["apps"][n]["objects_written"] - b["apps"][n]["objects_written"] for n in a["apps"]}
print(f"webhook ({code}) to app-017 applied: {float(latency) * 1000:.0f} ms (target < 1000 ms); "
      f"apps recompiled {len(recompiled)} {recompiled} (target 1); "
      f"objects written {sum(written.values())} (app-017: {written['app-017']})")
EOF

# 3. Resyncs without drift: two passes of the 20 s resync, counted once every app stands at the
#    new head and one pass has put that on each app's parent (moving an untouched app's
#    last-applied-commit to the new head is one status write per app, at its next reconcile).
t=$(wait_status "all(a.get('last_applied_commit') == '$head' for a in s['apps'].values())" 300)
settled=$(status | field "s['writes']")
echo "every app at the new head after ${t} s more; writes so far: $settled"
# One pass first: it writes each untouched app's annotation once (its new last-applied-commit).
r0=$(status | field "sum(a['reconciles'] for a in s['apps'].values())")
wait_status "sum(a['reconciles'] for a in s['apps'].values()) >= $r0 + $apps" 120 >/dev/null
sleep 2
before=$(status)
reconciles_before=$(echo "$before" | field "sum(a['reconciles'] for a in s['apps'].values())")
wait_status "sum(a['reconciles'] for a in s['apps'].values()) >= $reconciles_before + 2 * $apps" 120 >/dev/null
after=$(status)
python3 - "$before" "$after" <<'EOF'
import json, sys
b, a = json.loads(sys.argv[1]), json.loads(sys.argv[2])
w = {k: a["writes"][k] - b["writes"][k] for k in a["writes"]}
passes = sum(x["reconciles"] for x in a["apps"].values()) - sum(x["reconciles"] for x in b["apps"].values())
print(f"resync without drift: {passes} app reconciles, writes {w} (target 0), "
      f"discoveries {a['discoveries'] - b['discoveries']}")
EOF

# 4. Peak RSS of the controller process.
rss=$(awk '/VmHWM/ {print $2}' "/proc/$ctl_pid/status")
now=$(awk '/VmRSS/ {print $2}' "/proc/$ctl_pid/status")
echo "controller RSS: peak $((rss / 1024)) MiB, now $((now / 1024)) MiB (target < 64 MiB), managing $objects objects"
