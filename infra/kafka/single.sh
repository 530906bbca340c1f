#!/usr/bin/env bash
# Run one combined broker+controller KRaft Kafka node on 127.0.0.1 for tests: single.sh start|stop|status DIR [PORT].
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

usage() { echo "usage: $0 start|stop|status DIR [PORT]   (PORT default 19092, controller on PORT+1)" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
cmd="$1"
if [[ "$cmd" != start && ! -d "$2" ]]; then
  [[ "$cmd" == stop ]] && { log "nothing to stop: $2 does not exist"; exit 0; }
  [[ "$cmd" == status ]] && { echo "stopped"; exit 3; }
  die "$2 does not exist"
fi
mkdir -p "$2"
dir="$(cd "$2" && pwd)"
# The port is fixed when DIR is first formatted (the controller endpoint is stored in the KRaft log).
saved_port="$(cat "$dir/port" 2>/dev/null || true)"
port="${3:-${saved_port:-19092}}"
[[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number"
[[ -z "$saved_port" || "$saved_port" == "$port" ]] || die "$dir was created for port $saved_port; use a fresh DIR for port $port"
cport=$((port + 1))
heap="${MARCHWARDEN_KAFKA_HEAP:-512m}"

case "$cmd" in
  start)
    ensure_fetched
    if pid="$(node_pid "$dir")"; then log "already running (pid $pid) on 127.0.0.1:$port"; exit 0; fi
    write_props "$dir/server.properties" \
      "process.roles=broker,controller" \
      "node.id=1" \
      "controller.quorum.bootstrap.servers=127.0.0.1:$cport" \
      "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport" \
      "advertised.listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport" \
      "controller.listener.names=CONTROLLER" \
      "inter.broker.listener.name=PLAINTEXT" \
      "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT" \
      "log.dirs=$dir/data" \
      "${SINGLE_NODE_PROPS[@]}" \
      "auto.create.topics.enable=true" \
      "log.retention.hours=24" \
      "log.segment.bytes=67108864"
    # --standalone: a one-voter dynamic quorum (KIP-853), the Kafka 4.x default for a lone controller.
    format_storage "$dir" "$(new_kafka_uuid)" --standalone
    echo "$port" >"$dir/port"
    launch_node "$dir" "$heap"
    log "single node starting on 127.0.0.1:$port (logs: $dir/logs/server.log); use wait-ready.sh 127.0.0.1:$port"
    ;;
  stop)
    stop_nodes "$dir"
    log "stopped $dir"
    ;;
  status)
    if pid="$(node_pid "$dir")"; then echo "running pid=$pid bootstrap=127.0.0.1:$port"; else echo "stopped"; exit 3; fi
    ;;
  *) usage ;;
esac
