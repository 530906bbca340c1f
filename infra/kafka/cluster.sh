#!/usr/bin/env bash
# Run a 3-node KRaft Kafka cluster (each node broker+controller) on 127.0.0.1: cluster.sh start|stop|status|kill-node|start-node DIR [BASE_PORT|N].
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

NODES=3
usage() {
  cat >&2 <<USAGE
usage: $0 start DIR [BASE_PORT]   start 3 nodes; client ports BASE_PORT..+2 (default 29092), controllers BASE_PORT+10..+12
       $0 stop DIR                SIGTERM all nodes together, SIGKILL after ${KAFKA_STOP_TIMEOUT}s
       $0 status DIR              one line per node; exit 3 unless all are running
       $0 kill-node DIR N         kill -9 node N (1-3)
       $0 start-node DIR N        start node N again (storage kept)
USAGE
  exit 2
}
[[ $# -ge 2 ]] || usage
cmd="$1"
if [[ "$cmd" != start && ! -d "$2" ]]; then
  [[ "$cmd" == stop ]] && { log "nothing to stop: $2 does not exist"; exit 0; }
  [[ "$cmd" == status ]] && { echo "stopped"; exit 3; }
  die "$2 does not exist"
fi
mkdir -p "$2"
dir="$(cd "$2" && pwd)"
heap="${MARCHWARDEN_KAFKA_HEAP:-384m}"

load_env() {
  [[ -f "$dir/cluster.env" ]] || die "$dir has no cluster.env; run '$0 start $dir' first"
  # shellcheck disable=SC1091
  source "$dir/cluster.env"
  BASE_PORT="${BASE_PORT:?cluster.env lacks BASE_PORT}"
  CLUSTER_ID="${CLUSTER_ID:?cluster.env lacks CLUSTER_ID}"
  INITIAL_CONTROLLERS="${INITIAL_CONTROLLERS:?cluster.env lacks INITIAL_CONTROLLERS}"
  CONTROLLER_BOOTSTRAP="${CONTROLLER_BOOTSTRAP:?cluster.env lacks CONTROLLER_BOOTSTRAP}"
}

node_dir() { printf '%s/node-%s\n' "$dir" "$1"; }

check_n() { [[ "${1:-}" =~ ^[1-3]$ ]] || die "node number must be 1..$NODES, got '${1:-}'"; }

write_node_props() {
  local n="$1" port=$((BASE_PORT + $1 - 1)) cport=$((BASE_PORT + 10 + $1 - 1)) nd
  nd="$(node_dir "$n")"
  mkdir -p "$nd"
  write_props "$nd/server.properties" \
    "process.roles=broker,controller" \
    "node.id=$n" \
    "controller.quorum.bootstrap.servers=$CONTROLLER_BOOTSTRAP" \
    "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport" \
    "advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport" \
    "controller.listener.names=CONTROLLER" \
    "inter.broker.listener.name=PLAINTEXT" \
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT" \
    "log.dirs=$nd/data" \
    "num.network.threads=2" \
    "num.io.threads=2" \
    "num.replica.fetchers=1" \
    "background.threads=2" \
    "num.partitions=6" \
    "default.replication.factor=3" \
    "min.insync.replicas=2" \
    "auto.create.topics.enable=true" \
    "offsets.topic.replication.factor=3" \
    "offsets.topic.num.partitions=6" \
    "transaction.state.log.replication.factor=3" \
    "transaction.state.log.min.isr=2" \
    "transaction.state.log.num.partitions=6" \
    "share.coordinator.state.topic.replication.factor=3" \
    "share.coordinator.state.topic.min.isr=2" \
    "group.initial.rebalance.delay.ms=0" \
    "broker.heartbeat.interval.ms=1000" \
    "broker.session.timeout.ms=6000" \
    "replica.lag.time.max.ms=10000" \
    "log.retention.hours=24" \
    "log.segment.bytes=67108864"
}

case "$cmd" in
  start)
    ensure_fetched
    if [[ ! -f "$dir/cluster.env" ]]; then
      base="${3:-29092}"
      [[ "$base" =~ ^[0-9]+$ ]] || die "BASE_PORT must be a number"
      voters=() bootstrap=()
      for n in 1 2 3; do
        voters+=("$n@127.0.0.1:$((base + 10 + n - 1)):$(new_kafka_uuid)")
        bootstrap+=("127.0.0.1:$((base + 10 + n - 1))")
      done
      {
        echo "BASE_PORT=$base"
        echo "CLUSTER_ID=$(new_kafka_uuid)"
        echo "INITIAL_CONTROLLERS=$(IFS=,; echo "${voters[*]}")"
        echo "CONTROLLER_BOOTSTRAP=$(IFS=,; echo "${bootstrap[*]}")"
      } >"$dir/cluster.env"
    fi
    load_env
    [[ -z "${3:-}" || "$3" == "$BASE_PORT" ]] || die "$dir was created with BASE_PORT=$BASE_PORT; use a fresh DIR for $3"
    pids=()
    for n in 1 2 3; do
      write_node_props "$n"
      # All three voters are declared up front (--initial-controllers), so no later add-controller step is needed.
      format_storage "$(node_dir "$n")" "$CLUSTER_ID" --initial-controllers "$INITIAL_CONTROLLERS" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || die "storage format failed"; done
    for n in 1 2 3; do launch_node "$(node_dir "$n")" "$heap"; done
    log "cluster starting; bootstrap 127.0.0.1:$BASE_PORT,127.0.0.1:$((BASE_PORT + 1)),127.0.0.1:$((BASE_PORT + 2))"
    ;;
  stop)
    [[ -f "$dir/cluster.env" ]] || { log "nothing to stop in $dir"; exit 0; }
    # Stop all at once: stopping one by one can leave the last node waiting on a quorum that is gone.
    KAFKA_QUORUMLESS_GRACE="${MARCHWARDEN_KAFKA_QUORUMLESS_GRACE:-3}" \
      stop_nodes "$(node_dir 1)" "$(node_dir 2)" "$(node_dir 3)"
    log "cluster stopped"
    ;;
  status)
    load_env
    rc=0
    for n in 1 2 3; do
      if pid="$(node_pid "$(node_dir "$n")")"; then
        echo "node $n running pid=$pid port=$((BASE_PORT + n - 1))"
      else
        echo "node $n stopped port=$((BASE_PORT + n - 1))"; rc=3
      fi
    done
    exit "$rc"
    ;;
  kill-node)
    load_env; check_n "${3:-}"
    kill_node "$(node_dir "$3")"
    ;;
  start-node)
    load_env; check_n "${3:-}"
    ensure_fetched
    write_node_props "$3"
    launch_node "$(node_dir "$3")" "$heap"
    ;;
  *) usage ;;
esac
