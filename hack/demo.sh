#!/usr/bin/env bash
# The kindling demo: bring the local cluster up, deploy examples/hello-python, show its answer, edit a copy of
# its source, run `kindling sync --restart --once --keep` and show the changed answer.
# Pods are reached only through `kubectl port-forward` on 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

NS=${DEMO_NAMESPACE:-kindling-demo}
APP=examples/hello-python
LOCAL_PORT=${DEMO_PORT:-18080}

if [[ -n ${KINDLING_E2E_KUBECONFIG:-} ]]; then
  export KUBECONFIG=$KINDLING_E2E_KUBECONFIG
else
  hack/cluster/up
  export KUBECONFIG=${KINDLING_CLUSTER_DIR:-/var/tmp/kindling-cluster}/kubeconfig
fi
k() { kubectl -n "$NS" "$@" 2>&1 | grep -v -i 'version skew\|WARNING: version difference' || true; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# get: GET / through a fresh port-forward to 127.0.0.1 (a fresh one each time: the pod may be replaced).
get() {
  local pf out=""
  kubectl -n "$NS" port-forward --address 127.0.0.1 deploy/hello "$LOCAL_PORT:8080" >/dev/null 2>&1 &
  pf=$!
  for _ in $(seq 50); do
    if out=$(curl -sf --max-time 2 "http://127.0.0.1:$LOCAL_PORT/" 2>/dev/null); then break; fi
    sleep 0.1
  done
  kill "$pf" 2>/dev/null || true
  wait "$pf" 2>/dev/null || true
  printf '%s' "$out"
}

say "deploy $APP into namespace $NS"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n "$NS" delete deployment hello --ignore-not-found --wait=true >/dev/null 2>&1 || true
kubectl -n "$NS" create configmap hello-src --from-file="$APP/app" --dry-run=client -o yaml | kubectl -n "$NS" apply -f - >/dev/null
k apply -f "$APP/k8s/hello.yaml"
k rollout status deployment/hello --timeout=120s

say "before"
before=$(get)
echo "GET / -> $before"
[[ -n $before ]] || { echo "no answer from the app" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$APP/app/." "$work/"
new="Hello from kindling, edited at $(date +%H:%M:%S)!"
sed -i "s/^MESSAGE = .*/MESSAGE = \"$new\"/" "$work/greeting.py"
say "edit a local copy ($work/greeting.py): MESSAGE = \"$new\""

say "kindling sync -d hello -n $NS --src $work --dest /app --restart --once --keep"
go run ./cmd/kindling sync -d hello -n "$NS" --src "$work" --dest /app --restart --once --keep

say "after"
after=""
deadline=$((SECONDS + ${DEMO_WAIT:-60}))
while ((SECONDS < deadline)); do
  after=$(get)
  [[ $after == *"$new"* ]] && break
  sleep 1
done
echo "GET / -> $after"
if [[ $after != *"$new"* ]]; then
  echo "the app does not serve the edited message" >&2
  exit 1
fi
say "done: the change reached the pod without an image build"
