# shellcheck shell=bash
# How each component of the local cluster is started and when it counts as up: shared by up (which starts
# them all) and component (which stops or starts one, e.g. for the fault-injection tests), so both run
# exactly the same command lines. Sourced after lib.sh; needs the PKI and the configuration files that up
# writes.

# api PATH: GET from the API server as admin; prints the (pretty) JSON.
api() {
  curl -sf --max-time 5 --cacert "$PKI_DIR/ca.crt" --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" \
    "https://127.0.0.1:6443$1"
}
node_ready() {
  api "/api/v1/nodes/$NODE_NAME?pretty=true" | grep -A1 '"type": "Ready"' | grep -q '"status": "True"'
}

# component_cmd NAME: sets CMD to the component's command line (the binary name is looked up in PATH, which
# must hold $BIN_DIR for the Kubernetes binaries).
component_cmd() {
  local node_ip
  node_ip=$(<"$PKI_DIR/node-ip")
  case $1 in
  etcd)
    CMD=(etcd --name kindling --data-dir "$DATA_DIR/etcd"
      --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379
      --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380
      --initial-cluster kindling=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381
      --quota-backend-bytes 2147483648 --snapshot-count 10000) ;;
  containerd)
    CMD=(containerd --config "$CONF_DIR/containerd.toml") ;;
  kube-apiserver)
    # shellcheck disable=SC2054 # the commas are inside flag values
    CMD=(kube-apiserver
      --etcd-servers=http://127.0.0.1:2379
      --bind-address=127.0.0.1 --advertise-address="$node_ip" --secure-port=6443
      --service-cluster-ip-range="$SERVICE_CIDR"
      --client-ca-file="$PKI_DIR/ca.crt"
      --tls-cert-file="$PKI_DIR/apiserver.crt" --tls-private-key-file="$PKI_DIR/apiserver.key"
      --kubelet-client-certificate="$PKI_DIR/apiserver-kubelet-client.crt"
      --kubelet-client-key="$PKI_DIR/apiserver-kubelet-client.key"
      --kubelet-certificate-authority="$PKI_DIR/ca.crt"
      --kubelet-preferred-address-types=InternalIP,Hostname
      --service-account-key-file="$PKI_DIR/sa.pub"
      --service-account-signing-key-file="$PKI_DIR/sa.key"
      --service-account-issuer=https://kubernetes.default.svc.cluster.local
      --authorization-mode=Node,RBAC
      --enable-admission-plugins=NodeRestriction
      --allow-privileged=true
      --profiling=false) ;;
  kube-controller-manager)
    CMD=(kube-controller-manager
      --kubeconfig="$CONF_DIR/controller-manager.kubeconfig"
      --authentication-kubeconfig="$CONF_DIR/controller-manager.kubeconfig"
      --authorization-kubeconfig="$CONF_DIR/controller-manager.kubeconfig"
      --bind-address=127.0.0.1 --leader-elect=false
      --service-account-private-key-file="$PKI_DIR/sa.key" --root-ca-file="$PKI_DIR/ca.crt"
      --cluster-signing-cert-file="$PKI_DIR/ca.crt" --cluster-signing-key-file="$PKI_DIR/ca.key"
      --use-service-account-credentials=true --allocate-node-cidrs=false
      --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false) ;;
  kube-scheduler)
    CMD=(kube-scheduler
      --kubeconfig="$CONF_DIR/scheduler.kubeconfig"
      --authentication-kubeconfig="$CONF_DIR/scheduler.kubeconfig"
      --authorization-kubeconfig="$CONF_DIR/scheduler.kubeconfig"
      --bind-address=127.0.0.1 --leader-elect=false --profiling=false) ;;
  kubelet)
    CMD=(kubelet
      --config="$CONF_DIR/kubelet.yaml"
      --kubeconfig="$CONF_DIR/kubelet.kubeconfig"
      --root-dir="$DATA_DIR/kubelet"
      --cert-dir="$DATA_DIR/kubelet/pki"
      --hostname-override="$NODE_NAME" --node-ip="$node_ip") ;;
  *)
    die "unknown component $1 (one of: ${COMPONENTS[*]})" ;;
  esac
}

# start_component NAME: starts the component with start_daemon (no wait; see wait_component).
start_component() {
  component_cmd "$1"
  start_daemon "$1" "${CMD[@]}"
}

# wait_component NAME: waits until the component serves (for those that up waits for).
wait_component() {
  case $1 in
  etcd) wait_for "etcd" 30 curl -sf --max-time 2 http://127.0.0.1:2379/health ;;
  containerd) wait_for "containerd" 30 ctr --address "$CONTAINERD_SOCK" version ;;
  kube-apiserver) wait_for "kube-apiserver /readyz" 90 api /readyz ;;
  kubelet) wait_for "node $NODE_NAME Ready" 120 node_ready ;;
  esac
}
