#!/usr/bin/env bash
# `npm run kind:up`: a kind cluster running our istiod, a ztunnel per node and bookinfo in ambient.
# Needs docker, kind and kubectl. Prints every step and command; safe to run again (it reuses the
# cluster and re-applies the manifests).
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${KIND_CLUSTER:-ambient}"
IMAGE="ambient:dev"
GATEWAY_API_VERSION="v1.2.1"
ISTIO_VERSION="1.26.0"
GATEWAY_API_CRDS="https://github.com/kubernetes-sigs/gateway-api/releases/download/${GATEWAY_API_VERSION}/standard-install.yaml"
ISTIO_CRDS="https://raw.githubusercontent.com/istio/istio/${ISTIO_VERSION}/manifests/charts/base/files/crd-all.gen.yaml"

step() { printf '\n==> %s\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }

for tool in docker kind kubectl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "kind:up needs $tool on PATH" >&2
    exit 1
  fi
done

step "kind cluster '${CLUSTER}' (deploy/kind/kind-config.yaml)"
if kind get clusters | grep -qx "${CLUSTER}"; then
  echo "cluster ${CLUSTER} exists; reusing it"
else
  run kind create cluster --name "${CLUSTER}" --config deploy/kind/kind-config.yaml
fi
run kubectl config use-context "kind-${CLUSTER}"

step "image ${IMAGE} (Dockerfile), loaded into the cluster's nodes"
run docker build -t "${IMAGE}" .
run kind load docker-image "${IMAGE}" --name "${CLUSTER}"

step "CRDs: Gateway API ${GATEWAY_API_VERSION} (standard channel) and Istio ${ISTIO_VERSION}"
run kubectl apply -f "${GATEWAY_API_CRDS}"
run kubectl apply -f "${ISTIO_CRDS}"

step "istiod (istio-system): RBAC, Deployment, Service, GatewayClass istio-waypoint"
run kubectl apply -f deploy/kind/namespace.yaml
run kubectl apply -f deploy/kind/rbac.yaml
run kubectl apply -f deploy/kind/istiod.yaml
run kubectl -n istio-system rollout status deployment/istiod --timeout=180s

step "ztunnel DaemonSet"
run kubectl apply -f deploy/kind/ztunnel.yaml
run kubectl -n istio-system rollout status daemonset/ztunnel --timeout=180s

step "bookinfo + curl in the ambient namespace default"
run kubectl apply -f deploy/kind/bookinfo.yaml
run kubectl -n default wait --for=condition=Available deployment --all --timeout=300s

step "done"
cat <<'NEXT'
Try:
  kubectl exec deploy/curl -- curl -s productpage:9080/productpage | grep -o '<title>.*</title>'
  kubectl apply -f deploy/kind/samples/reviews-waypoint.yaml       # istiod creates the waypoint Deployment + Service
  kubectl get gateway reviews-waypoint -o jsonpath='{.status.conditions}'
  kubectl apply -f deploy/kind/samples/deny-productpage-to-details.yaml
  kubectl -n istio-system port-forward deploy/istiod 15014 &  curl -s localhost:15014/debug/analysis
Remove everything: npm run kind:down
NEXT
