#!/usr/bin/env bash
# Creates the kind cluster, builds and loads the synod image, generates the Secrets and deploys
# k8s/overlays/kind, then waits until every workload is ready (k8s/README.md).
# Needs: docker (or another engine kind supports), kind >= v0.24.0, kubectl, node + npm ci done.
# Env: CLUSTER (kind cluster name, default synod), IMAGE (default synod:dev),
#      WAIT (kubectl wait timeout, default 300s).
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER="${CLUSTER:-synod}"
IMAGE="${IMAGE:-synod:dev}"
WAIT="${WAIT:-300s}"
OVERLAY=k8s/overlays/kind
SECRETS="$OVERLAY/secrets"
NS=synod

for tool in docker kind kubectl node; do
  command -v "$tool" >/dev/null || { echo "up.sh: $tool is not installed (k8s/README.md, Prerequisites)" >&2; exit 1; }
done

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  echo "kind cluster $CLUSTER exists; reusing it"
else
  kind create cluster --name "$CLUSTER" --config infra/kind/cluster.yaml --wait 120s
fi
kubectl config use-context "kind-$CLUSTER" >/dev/null

docker build -t "$IMAGE" .
kind load docker-image --name "$CLUSTER" "$IMAGE"

# Secret material: generated once per checkout, never committed (the directory is git-ignored).
# Delete the directory to rotate every password and the token (then re-run this script).
if [[ ! -f "$SECRETS/nats-auth.conf" ]]; then
  node services/cli/build.mjs --quiet
  node services/cli/dist/bin/synod.mjs creds --out "$SECRETS"
fi

kubectl apply -k "$OVERLAY"

echo "waiting for the rollouts (up to $WAIT each)"
for dc in dc-a dc-b dc-c; do
  kubectl -n "$NS" rollout status "deployment/nats-$dc" --timeout="$WAIT"
done
for dc in dc-a dc-b dc-c; do
  kubectl -n "$NS" rollout status "deployment/timemaster-$dc" --timeout="$WAIT"
done
for dc in dc-a dc-b dc-c; do
  kubectl -n "$NS" rollout status "statefulset/spanserver-$dc" --timeout="$WAIT"
  kubectl -n "$NS" rollout status "statefulset/placement-$dc" --timeout="$WAIT"
done
for dc in dc-a dc-b dc-c; do
  kubectl -n "$NS" rollout status "deployment/gateway-$dc" --timeout="$WAIT"
done
kubectl -n "$NS" wait --for=condition=Ready pod -l app.kubernetes.io/part-of=synod,app.kubernetes.io/name!=k6 --timeout="$WAIT"

cat <<MSG

synod is up in kind cluster $CLUSTER, namespace $NS.
  kubectl -n $NS port-forward service/gateway 8080:8080 &      # one of the zones' gateways
  kubectl -n $NS port-forward deployment/gateway-dc-b 8080:8080 &   # or a given zone's
  TOKEN=\$(cat $SECRETS/gateway-tokens)
  curl -s -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8080/v1/cluster
Load:       kubectl -n $NS patch job k6-bank --type=merge -p '{"spec":{"suspend":false}}'
Partition:  infra/kind/partition.sh dc-b      Heal: infra/kind/partition.sh heal
Down:       infra/kind/down.sh
MSG
