#!/usr/bin/env bash
# Cuts one zone (datacenter) off from the others, or heals every cut (k8s/README.md):
#   infra/kind/partition.sh dc-a|dc-b|dc-c   replace that zone's cross-zone NetworkPolicy with
#                                            k8s/partition/partition.yaml (allows nothing)
#   infra/kind/partition.sh heal             apply k8s/base/networkpolicy-cross-zone.yaml again
# NetworkPolicy enforcement judges new connections (kindnet's, like most, lets established ones
# be); the NATS routes are long-lived TCP connections, so after the cut the zone's nats-server is
# restarted (a rolling restart: the new server starts first) and its routes must be opened again,
# which the policy refuses. Healing needs no restart: nats-server retries its configured routes.
# Env: WAIT (rollout timeout, default 120s).
set -euo pipefail
cd "$(dirname "$0")/../.."
NS=synod
WAIT="${WAIT:-120s}"

usage() { echo "usage: $0 dc-a|dc-b|dc-c|heal" >&2; exit 2; }
[[ $# -eq 1 ]] || usage

restart_nats() {
  kubectl -n "$NS" rollout restart "deployment/nats-$1"
  kubectl -n "$NS" rollout status "deployment/nats-$1" --timeout="$WAIT"
}

case "$1" in
  dc-a|dc-b|dc-c)
    sed "s/DC_NAME/$1/g" k8s/partition/partition.yaml | kubectl apply -f -
    restart_nats "$1"
    echo "partitioned: $1 is cut off from the other zones (heal: $0 heal)"
    ;;
  heal)
    kubectl -n "$NS" apply -f k8s/base/networkpolicy-cross-zone.yaml
    echo "healed: the nats servers reconnect their routes within a few seconds"
    ;;
  *) usage ;;
esac
