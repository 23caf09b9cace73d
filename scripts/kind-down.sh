#!/usr/bin/env bash
# `npm run kind:down`: delete the kind cluster kind:up made (and nothing else).
set -euo pipefail

CLUSTER="${KIND_CLUSTER:-ambient}"

step() { printf '\n==> %s\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }

if ! command -v kind >/dev/null 2>&1; then
  echo "kind:down needs kind on PATH" >&2
  exit 1
fi

step "delete kind cluster '${CLUSTER}'"
if kind get clusters | grep -qx "${CLUSTER}"; then
  run kind delete cluster --name "${CLUSTER}"
else
  echo "no cluster named ${CLUSTER}; nothing to do"
fi
