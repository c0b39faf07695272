#!/usr/bin/env bash
# control-plane.sh - a real kube-apiserver + etcd on loopback, for kiln's tests and CI.
#
#   scripts/control-plane.sh build   build (once) kube-apiserver, kube-controller-manager + etcd from
#                                    the Go module proxy
#   scripts/control-plane.sh up      build if needed, start etcd + kube-apiserver, wait for /readyz,
#                                    start kube-controller-manager (namespace lifecycle, garbage
#                                    collector, ServiceAccount tokens; CP_CONTROLLERS=0 skips it),
#                                    write a kubeconfig; prints `export KUBECONFIG=...` on stdout
#   scripts/control-plane.sh env     print the export lines of the running instance (exit 1 if none)
#   scripts/control-plane.sh status  exit 0 when the recorded instance is up and /readyz is ok
#   scripts/control-plane.sh down    stop exactly the processes `up` started, remove the state dir
#   scripts/control-plane.sh stop-apiserver   stop only kube-apiserver (SIGTERM, as a node shutdown
#                                    does); etcd and its data keep running
#   scripts/control-plane.sh start-apiserver  start kube-apiserver again with the command line `up`
#                                    used (same port, certs and token, same etcd), wait for /readyz
#
# Typical use:
#   eval "$(scripts/control-plane.sh up)"; kubectl get ns; scripts/control-plane.sh down
# stop-apiserver/start-apiserver let a test take the API server away in the middle of a request
# and bring it back with nothing lost (kiln's reconciler tests do this on an instance of their own).
#
# The build is a scratch Go module that requires k8s.io/kubernetes@$K8S_VERSION, replaces every
# k8s.io staging module (required there at v0.0.0) by v0.<minor>.<patch>, and requires
# go.etcd.io/etcd/server/v3 at the version k8s.io/kubernetes pins. GOTOOLCHAIN=local: no toolchain
# is ever downloaded. Binaries are cached in $CP_CACHE_DIR/<K8S_VERSION>/bin, so later runs cost
# nothing; Go's module and build caches stay where `go env` says.
#
# Environment:
#   K8S_VERSION       v1.36.3   k8s.io/kubernetes version (fallbacks: v1.35.4, v1.34.4)
#   CP_BACKEND        etcd      etcd | kine (kine + SQLite, the fallback storage)
#   KINE_VERSION      v0.17.5
#   CP_CACHE_DIR      ${XDG_CACHE_HOME:-$HOME/.cache}/kiln/control-plane
#   CP_STATE_DIR      $CP_CACHE_DIR/<K8S_VERSION>/run   certs, data, logs, kubeconfig, pids
#   CP_START_TIMEOUT  120       seconds to wait for each component
#   CP_APISERVER_BIN, CP_ETCD_BIN, CP_KINE_BIN, CP_CONTROLLER_MANAGER_BIN   prebuilt binaries
#   CP_CONTROLLERS    1         0 = do not start kube-controller-manager
#   CP_MEASURE        0         1 = wrap each go build in /usr/bin/time -v
#   CP_KEEP           0         1 = `down` keeps the state dir (logs)
#   CP_STOP_SIGNAL    TERM      signal `stop-apiserver` sends (KILL = a crash); SIGKILL follows
#                               after 20s either way
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.36.3}"
CP_BACKEND="${CP_BACKEND:-etcd}"
KINE_VERSION="${KINE_VERSION:-v0.17.5}"
CP_CACHE_DIR="${CP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln/control-plane}"
CP_START_TIMEOUT="${CP_START_TIMEOUT:-120}"
CP_MEASURE="${CP_MEASURE:-0}"
CP_STOP_SIGNAL="${CP_STOP_SIGNAL:-TERM}"
CP_CONTROLLERS="${CP_CONTROLLERS:-1}"

log() { printf '[control-plane] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# exit code 3 = a prerequisite is missing (the Rust test support may skip on it outside CI)
need() { command -v "$1" >/dev/null 2>&1 || { log "ERROR: '$1' not found: $2"; exit 3; }; }

[[ "$K8S_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || die "K8S_VERSION must look like v1.36.3 (got $K8S_VERSION)"
K8S_MINOR="${BASH_REMATCH[1]}"
STAGING_VERSION="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
case "$CP_BACKEND" in etcd | kine) ;; *) die "CP_BACKEND must be etcd or kine" ;; esac

VDIR="$CP_CACHE_DIR/$K8S_VERSION"
BIN_DIR="$VDIR/bin"
KINE_BIN_DIR="$CP_CACHE_DIR/kine-$KINE_VERSION/bin"
CP_STATE_DIR="${CP_STATE_DIR:-$VDIR/run}"

# ----------------------------------------------------------------------------------------------
# build
# ----------------------------------------------------------------------------------------------
version_ge() { [[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" == "$2" ]]; }

go_setup() {
  need go "the control plane is built from the Go module proxy; install Go >= 1.26 (or set KILN_TEST_KUBECONFIG / CP_APISERVER_BIN+CP_ETCD_BIN)"
  export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
  export GOWORK=off GO111MODULE=on
  export CGO_ENABLED="${CGO_ENABLED:-0}"
  GO_LOCAL_VERSION="$(go env GOVERSION)"
  GO_LOCAL_VERSION="${GO_LOCAL_VERSION#go}"
  GO_LOCAL_VERSION="${GO_LOCAL_VERSION%% *}"
}

timed_go_build() { # timed_go_build <label> <go build args...>
  local label="$1" t0=$SECONDS
  shift
  mkdir -p "$VDIR/logs"
  if [[ "$CP_MEASURE" == 1 && -x /usr/bin/time ]]; then
    /usr/bin/time -v -o "$VDIR/logs/time-$label.txt" go build -mod=mod "$@"
    log "$label: $(grep -E 'Maximum resident set size|Elapsed' "$VDIR/logs/time-$label.txt" | tr -s ' \t' ' ' | paste -sd ';' -)"
  else
    go build -mod=mod "$@"
  fi
  log "$label built in $((SECONDS - t0))s"
}

# Writes the scratch module into $1; sets ETCD_VERSION and K8S_GO_LINE.
prepare_k8s_module() {
  local dir="$1" info gomod m
  mkdir -p "$dir"
  rm -f "$dir/go.mod" "$dir/go.sum"
  # go mod download needs a module context; a throwaway one is enough
  printf 'module kiln-control-plane/probe\n\ngo %s\n' "$GO_LOCAL_VERSION" >"$dir/go.mod"
  log "downloading k8s.io/kubernetes@$K8S_VERSION (large; first time only)"
  if ! info="$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION")"; then
    printf '%s\n' "$info" >&2
    die "go mod download k8s.io/kubernetes@$K8S_VERSION failed: is that version served by the proxy?"
  fi
  gomod="$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"GoMod":[[:space:]]*"\([^"]*\)".*/\1/p' | head -n1)"
  [[ -n "$gomod" && -f "$gomod" ]] || die "could not locate the go.mod of k8s.io/kubernetes@$K8S_VERSION"

  K8S_GO_LINE="$(awk '$1=="go"{print $2; exit}' "$gomod")"
  if [[ "$GOTOOLCHAIN" == local ]] && ! version_ge "$GO_LOCAL_VERSION" "$K8S_GO_LINE"; then
    die "k8s.io/kubernetes@$K8S_VERSION needs go >= $K8S_GO_LINE, this machine has $GO_LOCAL_VERSION (pick an older K8S_VERSION)"
  fi

  mapfile -t STAGING_MODULES < <(awk '
      /^require[[:space:]]*\($/ { inreq = 1; next }
      inreq && /^\)/            { inreq = 0; next }
      /^require[[:space:]]+k8s\.io\// { if ($3 == "v0.0.0") print $2; next }
      inreq && $1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }
    ' "$gomod" | sort -u)
  ((${#STAGING_MODULES[@]} > 0)) || die "found no v0.0.0 staging requirements in $gomod"

  ETCD_VERSION="${ETCD_VERSION:-$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "$gomod")}"
  [[ -n "$ETCD_VERSION" ]] || die "no go.etcd.io/etcd/server/v3 in $gomod; set ETCD_VERSION=v3.x.y"

  local go_line="$K8S_GO_LINE"
  version_ge "$go_line" 1.24 || go_line=1.24.0
  printf 'module kiln-control-plane/tools\n\ngo %s\n' "$go_line" >"$dir/go.mod"
  local edits=(-require="k8s.io/kubernetes@$K8S_VERSION" -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION")
  for m in "${STAGING_MODULES[@]}"; do edits+=(-replace="$m=$m@$STAGING_VERSION"); done
  (cd "$dir" && go mod edit "${edits[@]}")
  log "resolving dependencies (${#STAGING_MODULES[@]} staging modules -> $STAGING_VERSION, etcd $ETCD_VERSION)"
  (cd "$dir" && go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" \
    "k8s.io/kubernetes/cmd/kube-controller-manager@$K8S_VERSION" "go.etcd.io/etcd/server/v3@$ETCD_VERSION") ||
    die "go get -tool failed (usually a module the proxy does not serve; try another K8S_VERSION)"
}

k8s_ldflags() {
  local p date ld="-s -w"
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$K8S_MINOR"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  printf '%s' "$ld"
}

build_k8s() {
  if [[ -x "$BIN_DIR/kube-apiserver" && -x "$BIN_DIR/etcd" ]]; then
    if [[ ! -x "$BIN_DIR/kube-controller-manager" ]]; then build_controller_manager; fi
    log "using cached binaries in $BIN_DIR"
    return
  fi
  go_setup
  local t0=$SECONDS dir="$VDIR/src"
  prepare_k8s_module "$dir"
  local tmp="$BIN_DIR.tmp.$$" ld date
  ld="$(k8s_ldflags)"
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  (cd "$dir" && timed_go_build kube-apiserver -trimpath -pgo=off -ldflags "$ld" \
    -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
  (cd "$dir" && timed_go_build kube-controller-manager -trimpath -pgo=off -ldflags "$ld" \
    -o "$tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager)
  (cd "$dir" && timed_go_build etcd -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  printf 'k8s=%s etcd=%s go=%s built=%s\n' "$K8S_VERSION" "$ETCD_VERSION" "$GO_LOCAL_VERSION" "$date" >"$tmp/STAMP"
  rm -rf "$BIN_DIR"
  mv "$tmp" "$BIN_DIR"
  log "binaries ready in $BIN_DIR (build took $((SECONDS - t0))s)"
}

# A cache made before kube-controller-manager was part of the control plane: build just that
# binary, from the same k8s.io/kubernetes module and version, in a module of its own (the
# cached one may be in use), and add it atomically.
build_controller_manager() {
  go_setup
  local t0=$SECONDS dir="$VDIR/src-kcm" tmp="$BIN_DIR/.kube-controller-manager.tmp.$$"
  prepare_k8s_module "$dir"
  (cd "$dir" && timed_go_build kube-controller-manager -trimpath -pgo=off -ldflags "$(k8s_ldflags)" \
    -o "$tmp" k8s.io/kubernetes/cmd/kube-controller-manager)
  mv -f "$tmp" "$BIN_DIR/kube-controller-manager"
  log "kube-controller-manager added to $BIN_DIR (build took $((SECONDS - t0))s)"
}

build_kine() {
  if [[ -x "$KINE_BIN_DIR/kine" ]]; then return; fi
  go_setup
  local dir="$CP_CACHE_DIR/kine-$KINE_VERSION/src" tmp="$KINE_BIN_DIR.tmp.$$"
  mkdir -p "$dir" "$tmp"
  rm -f "$dir/go.mod" "$dir/go.sum"
  printf 'module kiln-control-plane/kine\n\ngo %s\n' "$GO_LOCAL_VERSION" >"$dir/go.mod"
  (cd "$dir" && go get -tool "github.com/k3s-io/kine@$KINE_VERSION") || die "go get kine failed"
  (cd "$dir" && timed_go_build kine -trimpath -ldflags "-s -w" -o "$tmp/kine" github.com/k3s-io/kine)
  rm -rf "$KINE_BIN_DIR"
  mv "$tmp" "$KINE_BIN_DIR"
}

if [[ "${1:-}" == build ]]; then
  if [[ "$CP_BACKEND" == kine ]]; then build_kine; fi
  build_k8s
  exit 0
fi

# ----------------------------------------------------------------------------------------------
# instance state: $CP_STATE_DIR/{pids,env,kubeconfig,pki/,logs/,data/}
# pids has NAME PID STARTTIME BINARY lines, in start order; STARTTIME (field 22 of
# /proc/PID/stat) guards against signalling a recycled PID.
# ----------------------------------------------------------------------------------------------
PIDS="$CP_STATE_DIR/pids"

proc_start() { awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat" 2>/dev/null; }

# true when the recorded process is still the one we started
is_ours() { # is_ours PID STARTTIME
  [[ "$1" =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null && [[ "$(proc_start "$1")" == "$2" ]]
}

record_pid() { printf '%s %s %s %s\n' "$1" "$2" "$(proc_start "$2")" "$3" >>"$PIDS"; }

stop_recorded() { # stop_recorded [ONLY_NAME [SIGNAL]]: all recorded processes, newest first
  local only="${1:-}" signal="${2:-TERM}" name pid start bin i
  [[ -f "$PIDS" ]] || return 0
  while read -r name pid start bin; do
    [[ -z "$only" || "$name" == "$only" ]] || continue
    if ! is_ours "$pid" "$start"; then
      log "$name (pid $pid) not running"
      continue
    fi
    kill "-$signal" "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do is_ours "$pid" "$start" || break; sleep 0.2; done
    if is_ours "$pid" "$start"; then
      log "$name (pid $pid) ignored SIG$signal for 20s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      # a killed process is still listed until the kernel reaps it: wait, so a following
      # start does not take it for a running one
      for ((i = 0; i < 50; i++)); do is_ours "$pid" "$start" || break; sleep 0.2; done
    fi
    log "$name (pid $pid) stopped"
  done < <(tac "$PIDS")
}

all_running() {
  local name pid start bin n=0
  [[ -s "$PIDS" ]] || return 1
  while read -r name pid start bin; do
    is_ours "$pid" "$start" || return 1
    n=$((n + 1))
  done <"$PIDS"
  ((n >= 2))
}

healthy() {
  all_running && [[ -f "$CP_STATE_DIR/env" ]] || return 1
  local url
  url="$(sed -n 's/^export CP_API_SERVER=//p' "$CP_STATE_DIR/env")"
  curl -fsS --max-time 5 --cacert "$CP_STATE_DIR/pki/ca.crt" --cert "$CP_STATE_DIR/pki/admin.crt" \
    --key "$CP_STATE_DIR/pki/admin.key" "$url/readyz" >/dev/null 2>&1
}

with_lock() { # serialise up/down across processes (test binaries, shells)
  mkdir -p "$(dirname "$CP_STATE_DIR")"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CP_STATE_DIR.lock"
    flock 9
  fi
}

free_ports() { # free_ports N -> N distinct free TCP ports on 127.0.0.1
  if command -v python3 >/dev/null 2>&1; then
    python3 - "$1" <<'PY'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
PY
  else
    local out=() p
    while ((${#out[@]} < $1)); do
      p=$((20000 + RANDOM % 40000))
      [[ " ${out[*]} " == *" $p "* ]] && continue
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
      out+=("$p")
    done
    echo "${out[*]}"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() { # wait_for <label> <pid> <logfile> <command...>
  local label="$1" pid="$2" logf="$3" t0=$SECONDS
  shift 3
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$logf" >&2 || true
      die "$label exited during start-up (log: $logf)"
    fi
    if ((SECONDS - t0 >= CP_START_TIMEOUT)); then
      tail -n 40 "$logf" >&2 || true
      die "$label not ready after ${CP_START_TIMEOUT}s (log: $logf)"
    fi
    sleep 0.2
  done
  log "$label ready after $((SECONDS - t0))s"
}

gen_pki() {
  local pki="$1"
  mkdir -p "$pki"
  gen_ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
  issue_cert() { # issue_cert <name> <subject> <extensions>
    gen_ec_key "$pki/$1.key"
    openssl req -new -key "$pki/$1.key" -subj "$2" -out "$pki/$1.csr" 2>/dev/null
    printf '%s\n' "$3" >"$pki/$1.ext"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
      -CAserial "$pki/ca.srl" -CAcreateserial -days 365 -sha256 \
      -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
    rm -f "$pki/$1.csr" "$pki/$1.ext"
  }
  gen_ec_key "$pki/ca.key"
  openssl req -x509 -new -key "$pki/ca.key" -sha256 -days 3650 -subj "/CN=kiln-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -addext "subjectKeyIdentifier=hash" -out "$pki/ca.crt" 2>/dev/null
  issue_cert apiserver "/CN=kube-apiserver" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  issue_cert admin "/O=system:masters/CN=kiln-test-admin" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
  openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  chmod 600 "$pki"/*.key
}

# Starts a detached daemon (own session, no inherited stdio) and records it.
spawn() { # spawn NAME LOG BIN ARGS...
  local name="$1" logf="$2" bin="$3"
  shift 3
  # appends: a restarted kube-apiserver keeps the log of its previous run
  setsid "$bin" "$@" >>"$logf" 2>&1 </dev/null 9>&- &
  SPAWNED=$!
  record_pid "$name" "$SPAWNED" "$bin"
}

# Starts kube-apiserver with the command line saved by `up` and waits until it serves.
launch_apiserver() { # launch_apiserver URL
  local url="$1" W="$CP_STATE_DIR" cmd
  local pki="$W/pki" logf="$W/logs/kube-apiserver.log"
  mapfile -d '' -t cmd <"$W/kube-apiserver.cmd"
  spawn kube-apiserver "$logf" "${cmd[@]}"
  local auth=(--cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key")
  wait_for kube-apiserver "$SPAWNED" "$logf" curl -fsS --max-time 5 "${auth[@]}" "$url/readyz"
  wait_for "namespace default" "$SPAWNED" "$logf" \
    curl -fsS --max-time 5 "${auth[@]}" "$url/api/v1/namespaces/default"
}

# Starts kube-controller-manager with the controllers a test cluster needs and waits until the
# ServiceAccount controller has created `default` in namespace default (so it runs). No nodes,
# no kubelet: only the controllers that act on API objects alone.
#   namespace-controller            deleted namespaces finish terminating (their objects go)
#   garbage-collector-controller    owner-referenced objects are collected
#   serviceaccount-controller       every namespace gets ServiceAccount `default`
#   serviceaccount-token-controller legacy token Secrets are filled in
#   persistentvolumeclaim-protection-controller  a deleted PVC's kubernetes.io/pvc-protection
#                                   finalizer is removed once no pod uses it (else the PVC, and
#                                   a namespace holding one, never finish deleting)
launch_controller_manager() { # launch_controller_manager URL
  local url="$1" W="$CP_STATE_DIR" kcm="${CP_CONTROLLER_MANAGER_BIN:-$BIN_DIR/kube-controller-manager}"
  local pki="$W/pki" logf="$W/logs/kube-controller-manager.log"
  [[ -x "$kcm" ]] || die "kube-controller-manager binary missing: $kcm (run: $0 build)"
  spawn kube-controller-manager "$logf" "$kcm" \
    --kubeconfig="$W/kubeconfig" --authentication-kubeconfig="$W/kubeconfig" \
    --authorization-kubeconfig="$W/kubeconfig" \
    --controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,persistentvolumeclaim-protection-controller \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --use-service-account-credentials=false --leader-elect=false \
    --bind-address=127.0.0.1 --secure-port=0 --profiling=false
  local auth=(--cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key")
  wait_for kube-controller-manager "$SPAWNED" "$logf" \
    curl -fsS --max-time 5 "${auth[@]}" "$url/api/v1/namespaces/default/serviceaccounts/default"
}

# The recorded pid line of NAME when that process is still running, else nothing.
running_line() { # running_line NAME
  local name pid start bin
  [[ -f "$PIDS" ]] || return 0
  while read -r name pid start bin; do
    if [[ "$name" == "$1" ]] && is_ours "$pid" "$start"; then echo "$name $pid"; fi
  done <"$PIDS"
}

cmd_up() {
  with_lock
  if healthy; then
    log "already up (state in $CP_STATE_DIR)"
    cat "$CP_STATE_DIR/env"
    return 0
  fi
  if [[ -f "$PIDS" ]]; then
    log "stale or unhealthy instance in $CP_STATE_DIR: stopping it and starting afresh"
    stop_recorded
  fi

  local apiserver="${CP_APISERVER_BIN:-}" etcd="${CP_ETCD_BIN:-}" kine="${CP_KINE_BIN:-}"
  if [[ -z "$apiserver" || ("$CP_BACKEND" == etcd && -z "$etcd") ]]; then build_k8s; fi
  if [[ "$CP_BACKEND" == kine && -z "$kine" ]]; then build_kine; fi
  apiserver="${apiserver:-$BIN_DIR/kube-apiserver}"
  etcd="${etcd:-$BIN_DIR/etcd}"
  kine="${kine:-$KINE_BIN_DIR/kine}"
  need openssl "apt-get install openssl"
  need curl "apt-get install curl"
  need setsid "apt-get install util-linux"

  local W="$CP_STATE_DIR" t0=$SECONDS
  # only ever delete a directory that looks like one of ours
  if [[ -d "$W" ]]; then
    [[ -z "$(ls -A "$W")" || -d "$W/pki" || -f "$W/pids" ]] || die "$W exists and is not a control-plane state dir"
    rm -rf "$W"
  fi
  mkdir -p "$W/logs"
  chmod 700 "$W"
  : >"$PIDS"
  trap 'rc=$?; if [[ $rc != 0 ]]; then log "start failed; stopping what was started (logs in $W/logs)"; stop_recorded; fi' EXIT

  local api_port store_port peer_port
  read -r api_port store_port peer_port < <(free_ports 3)
  gen_pki "$W/pki"
  local pki="$W/pki" token
  token="$(openssl rand -hex 24)"
  printf '%s,kiln-test-admin,kiln-test-admin,"system:masters"\n' "$token" >"$pki/tokens.csv"
  chmod 600 "$pki/tokens.csv"

  if [[ "$CP_BACKEND" == etcd ]]; then
    [[ -x "$etcd" ]] || die "etcd binary missing: $etcd"
    local etcd_args=(
      --name=default --data-dir="$W/data"
      --listen-client-urls="http://127.0.0.1:$store_port" --advertise-client-urls="http://127.0.0.1:$store_port"
      --listen-peer-urls="http://127.0.0.1:$peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$peer_port"
      --initial-cluster="default=http://127.0.0.1:$peer_port" --initial-cluster-state=new
      --log-level=warn --unsafe-no-fsync=true
    )
    spawn etcd "$W/logs/etcd.log" "$etcd" "${etcd_args[@]}"
    wait_for etcd "$SPAWNED" "$W/logs/etcd.log" \
      sh -c "curl -fsS --max-time 2 http://127.0.0.1:$store_port/health | grep -q '\"health\":\"true\"'"
  else
    [[ -x "$kine" ]] || die "kine binary missing: $kine"
    mkdir -p "$W/data"
    spawn kine "$W/logs/kine.log" "$kine" --listen-address="127.0.0.1:$store_port" \
      --endpoint="sqlite://$W/data/state.db?_journal=WAL&cache=shared&_busy_timeout=30000" \
      --metrics-bind-address=0
    wait_for kine "$SPAWNED" "$W/logs/kine.log" port_open "$store_port"
  fi

  local url="https://127.0.0.1:$api_port"
  local api_args=(
    --etcd-servers="http://127.0.0.1:$store_port"
    --bind-address=127.0.0.1 --secure-port="$api_port"
    --advertise-address=127.0.0.1 --endpoint-reconciler-type=none
    --cert-dir="$pki" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key"
    --client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv"
    --service-account-issuer="$url"
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key"
    --service-cluster-ip-range=10.0.0.0/24
    --authorization-mode=RBAC
    --disable-admission-plugins=ServiceAccount
    --allow-privileged=true
    --profiling=false
  )
  if [[ -n "${CP_EXTRA_APISERVER_ARGS:-}" ]]; then
    local extra
    read -r -a extra <<<"$CP_EXTRA_APISERVER_ARGS"
    api_args+=("${extra[@]}")
  fi
  # saved (NUL-separated) so that start-apiserver runs exactly the same command
  printf '%s\0' "$apiserver" "${api_args[@]}" >"$W/kube-apiserver.cmd"
  launch_apiserver "$url"

  b64() { base64 <"$1" | tr -d '\n'; }
  (umask 077 && cat >"$W/kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: kiln-test
  cluster:
    server: $url
    certificate-authority-data: $(b64 "$pki/ca.crt")
users:
- name: kiln-test-admin
  user:
    client-certificate-data: $(b64 "$pki/admin.crt")
    client-key-data: $(b64 "$pki/admin.key")
- name: kiln-test-token
  user:
    token: $token
contexts:
- name: kiln-test
  context: {cluster: kiln-test, user: kiln-test-admin, namespace: default}
- name: kiln-test-token
  context: {cluster: kiln-test, user: kiln-test-token, namespace: default}
current-context: kiln-test
KCFG
  )
  if [[ "$CP_CONTROLLERS" == 1 ]]; then launch_controller_manager "$url"; fi
  {
    printf 'export KUBECONFIG=%q\n' "$W/kubeconfig"
    printf 'export CP_API_SERVER=%q\n' "$url"
  } >"$W/env"
  trap - EXIT
  log "control plane up in $((SECONDS - t0))s: $url ($CP_BACKEND); state in $W"
  cat "$W/env"
}

cmd_down() {
  with_lock
  if [[ ! -f "$PIDS" ]]; then
    log "no control plane recorded in $CP_STATE_DIR (nothing to stop)"
    return 0
  fi
  stop_recorded
  if [[ "${CP_KEEP:-0}" == 1 ]]; then
    rm -f "$PIDS"
    log "kept $CP_STATE_DIR"
  elif [[ -d "$CP_STATE_DIR/pki" || -f "$PIDS" ]]; then
    rm -rf "$CP_STATE_DIR"
    log "removed $CP_STATE_DIR"
  fi
}

cmd_stop_apiserver() {
  with_lock
  [[ -n "$(running_line kube-apiserver)" ]] || die "no running kube-apiserver recorded in $CP_STATE_DIR"
  stop_recorded kube-apiserver "$CP_STOP_SIGNAL"
}

cmd_start_apiserver() {
  with_lock
  local W="$CP_STATE_DIR" store url
  [[ -f "$W/kube-apiserver.cmd" && -f "$W/env" ]] || die "no control plane recorded in $W (run: $0 up)"
  if [[ -n "$(running_line kube-apiserver)" ]]; then
    log "kube-apiserver already running"
    cat "$W/env"
    return 0
  fi
  store="$(awk '$1 != "kube-apiserver" {print $1}' "$PIDS" | head -n1)"
  [[ -n "$store" && -n "$(running_line "$store")" ]] || die "the storage ($store) is not running; start afresh: $0 up"
  url="$(sed -n 's/^export CP_API_SERVER=//p' "$W/env")"
  # forget the stopped process, so pids lists only what `down` has to stop
  sed -i '/^kube-apiserver /d' "$PIDS"
  trap 'rc=$?; if [[ $rc != 0 ]]; then log "start failed (log: $W/logs/kube-apiserver.log)"; stop_recorded kube-apiserver; fi' EXIT
  local t0=$SECONDS
  launch_apiserver "$url"
  trap - EXIT
  log "kube-apiserver up again in $((SECONDS - t0))s: $url"
  cat "$W/env"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  stop-apiserver) cmd_stop_apiserver ;;
  start-apiserver) cmd_start_apiserver ;;
  env)
    healthy || die "no healthy control plane in $CP_STATE_DIR (run: $0 up)"
    cat "$CP_STATE_DIR/env"
    ;;
  status)
    if healthy; then log "up: $(sed -n 's/^export CP_API_SERVER=//p' "$CP_STATE_DIR/env")"; else log "down"; exit 1; fi
    ;;
  -h | --help | help | "") sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d' ;;
  *) die "unknown command '$1' (build|up|down|env|status|stop-apiserver|start-apiserver)" ;;
esac
