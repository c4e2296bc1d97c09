#!/usr/bin/env bash
# Deletes the kind cluster that up.sh created (its volumes go with it). The generated secrets in
# k8s/overlays/kind/secrets stay; delete that directory to rotate them on the next up.sh.
# Env: CLUSTER (default synod).
set -euo pipefail
CLUSTER="${CLUSTER:-synod}"
command -v kind >/dev/null || { echo "down.sh: kind is not installed" >&2; exit 1; }
kind delete cluster --name "$CLUSTER"
