# shellcheck shell=bash disable=SC2034 # (unused here: the settings are for the scripts that source this file)
# Common settings and helpers of the local-cluster harness (sourced by up, down, status, images/build).

set -euo pipefail

HACK_CLUSTER=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HACK_CLUSTER/../.." && pwd)

# Everything the harness creates lives under this directory (never under /etc).
CLUSTER_DIR=${KINDLING_CLUSTER_DIR:-/var/tmp/kindling-cluster}
# The pinned Kubernetes version: k8s.io/kubernetes v1.$K8S_MINOR.$K8S_PATCH, staging modules v0.$K8S_MINOR.$K8S_PATCH
# (pinned in hack/cluster/k8s/go.mod too; change both together).
K8S_VERSION=v1.36.3

BIN_DIR=$CLUSTER_DIR/bin/$K8S_VERSION
CACHE_DIR=$CLUSTER_DIR/cache
PKI_DIR=$CLUSTER_DIR/pki
CONF_DIR=$CLUSTER_DIR/conf
LOG_DIR=$CLUSTER_DIR/logs
PID_DIR=$CLUSTER_DIR/pids
RUN_DIR=$CLUSTER_DIR/run          # sockets and containerd state
DATA_DIR=$CLUSTER_DIR/data        # etcd data, kubelet root, CNI IPAM (wiped by down)
CONTAINERD_ROOT=$CLUSTER_DIR/containerd   # images and snapshots (kept by down)
KUBECONFIG_PATH=$CLUSTER_DIR/kubeconfig
CONTAINERD_SOCK=$RUN_DIR/containerd.sock

# Image names; keep in sync with test/e2e/fixture.go.
PAUSE_IMAGE=kindling.local/pause:v1
RUNTIMES_IMAGE=kindling.local/runtimes:v1
BARE_IMAGE=kindling.local/bare:v1
TOOLBOX_IMAGE=kindling.local/toolbox:v1
SCRATCHGO_IMAGE=kindling.local/scratch-go:v1
# Every image the harness builds and imports, by its short name (hack/cluster/images/build).
IMAGES=(pause bare runtimes toolbox scratchgo)

# image_ref NAME: the reference of an image by its short name.
image_ref() {
  case $1 in
    pause) echo "$PAUSE_IMAGE" ;; bare) echo "$BARE_IMAGE" ;; runtimes) echo "$RUNTIMES_IMAGE" ;;
    toolbox) echo "$TOOLBOX_IMAGE" ;; scratchgo) echo "$SCRATCHGO_IMAGE" ;;
    *) echo "unknown image $1" >&2; return 1 ;;
  esac
}

CNI_BRIDGE=kindling0
POD_CIDR=10.88.0.0/24
SERVICE_CIDR=10.96.0.0/16
NODE_NAME=${KINDLING_NODE_NAME:-kindling-node}

# Components in start order (down stops them in reverse).
COMPONENTS=(etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# now_s: seconds since the epoch with millisecond precision (for phase timings).
now_s() { date +%s.%N | cut -c1-14; }
# elapsed START: seconds since START, rounded.
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.0f", b - a }'; }

# pid_of NAME: the recorded PID of a component if that process is alive, else nothing (and status 1).
pid_of() {
  local f=$PID_DIR/$1.pid pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ -d /proc/$pid ]] || return 1
  # a zombie is not alive
  [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1
  # the PID may have been reused since (e.g. after a reboot): the executable must be the component's
  local exe; exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  [[ $(basename "${exe% (deleted)}") == "$1" ]] || return 1
  printf '%s\n' "$pid"
}

# start_daemon NAME CMD ARGS...: start CMD in its own session, detached, logging to $LOG_DIR/NAME.log; records
# the daemon's own PID (the sh execs the command, so $$ is the daemon's PID).
start_daemon() {
  local name=$1; shift
  mkdir -p "$LOG_DIR" "$PID_DIR"
  rm -f "$PID_DIR/$name.pid"
  # shellcheck disable=SC2016 # $$ and "$@" are the inner sh's to expand
  setsid sh -c 'echo $$ > "$0"; exec "$@"' "$PID_DIR/$name.pid" "$@" \
    >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
  local i
  for i in $(seq 50); do [[ -s $PID_DIR/$name.pid ]] && return 0; sleep 0.1; done
  die "$name did not start (see $LOG_DIR/$name.log)"
}

# wait_for DESC TIMEOUT_S CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
  local desc=$1 timeout=$2; shift 2
  local start; start=$(now_s)
  until "$@" >/dev/null 2>&1; do
    if (( $(elapsed "$start") >= timeout )); then
      die "timed out after ${timeout}s waiting for $desc"
    fi
    sleep 0.2
  done
}

kctl() { kubectl --kubeconfig "$KUBECONFIG_PATH" "$@"; }

# hash_files FILE...: a short sha256 over the given files' contents and names.
hash_files() {
  local f
  for f in "$@"; do printf '%s\n' "${f#"$REPO_ROOT"/}"; cat "$f"; done | sha256sum | cut -c1-16
}
