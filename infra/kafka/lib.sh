# Shared helpers (paths, fetch check, node launch/stop) sourced by the Kafka run scripts; not executed directly.
# shellcheck shell=bash

KAFKA_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The jar manifest and the log config ship inside the package: `up --durable-broker` uses them too.
KAFKA_PACKAGE_DIR="$KAFKA_SCRIPT_DIR/../../services/marchwarden/embedded/kafka"
# Keep in sync with <kafka.version> in pom.xml.
KAFKA_DEFAULT_VERSION="4.3.1"
KAFKA_VERSION="${MARCHWARDEN_KAFKA_VERSION:-$KAFKA_DEFAULT_VERSION}"
KAFKA_CACHE_ROOT="${MARCHWARDEN_KAFKA_CACHE:-$HOME/.cache/marchwarden/kafka}"
KAFKA_HOME_DIR="$KAFKA_CACHE_ROOT/$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME_DIR/libs"
KAFKA_COMPLETE_MARKER="$KAFKA_HOME_DIR/.complete"
KAFKA_LOG4J_CONFIG="$KAFKA_PACKAGE_DIR/log4j2.properties"
# Seconds to wait after SIGTERM before SIGKILL, and after SIGKILL before giving up.
KAFKA_STOP_TIMEOUT="${MARCHWARDEN_KAFKA_STOP_TIMEOUT:-30}"
KAFKA_JVM_FLAGS="${MARCHWARDEN_KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k -Djava.awt.headless=true}"

log() { printf '[kafka] %s\n' "$*" >&2; }
die() { printf '[kafka] ERROR: %s\n' "$*" >&2; exit 1; }

# Run fetch.sh unless the jar cache for KAFKA_VERSION is already complete.
ensure_fetched() {
  if [[ ! -f "$KAFKA_COMPLETE_MARKER" ]]; then
    bash "$KAFKA_SCRIPT_DIR/fetch.sh"
  fi
  [[ -f "$KAFKA_COMPLETE_MARKER" ]] || die "Kafka jars missing in $KAFKA_LIBS (fetch.sh failed?)"
}

# Print a Kafka-style base64url UUID (22 chars, never starting with '-').
new_kafka_uuid() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "${id:0:1}" != "-" ]] && { printf '%s\n' "$id"; return; }
  done
}

# kafka_java HEAP ARGS... : run a JVM in the foreground with the Kafka classpath.
kafka_java() {
  local heap="$1"; shift
  # shellcheck disable=SC2086
  java -Xms64m "-Xmx$heap" $KAFKA_JVM_FLAGS \
    -Dlog4j2.configurationFile="$KAFKA_LOG4J_CONFIG" \
    -cp "$KAFKA_LIBS/*" "$@"
}

# format_storage NODE_DIR CLUSTER_ID FORMAT_ARGS... : format KRaft storage once (skips if meta.properties exists).
format_storage() {
  local node_dir="$1" cluster_id="$2"; shift 2
  if [[ -f "$node_dir/data/meta.properties" ]]; then
    return 0
  fi
  mkdir -p "$node_dir/logs"
  kafka_java 256m -Dkafka.logs.dir="$node_dir/logs" kafka.tools.StorageTool format \
    -t "$cluster_id" -c "$node_dir/server.properties" "$@" >"$node_dir/logs/format.log" 2>&1 \
    || { cat "$node_dir/logs/format.log" >&2; die "storage format failed for $node_dir"; }
}

# node_pid NODE_DIR : print the pid if that node's broker JVM is alive (pid file + cmdline check).
node_pid() {
  local node_dir="$1" pid
  [[ -f "$node_dir/kafka.pid" ]] || return 1
  pid="$(cat "$node_dir/kafka.pid")"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$node_dir/server.properties" || return 1
  printf '%s\n' "$pid"
}

# launch_node NODE_DIR HEAP : start kafka.Kafka detached, write NODE_DIR/kafka.pid.
launch_node() {
  local node_dir="$1" heap="$2" pid i
  if pid="$(node_pid "$node_dir")"; then
    log "already running: $node_dir (pid $pid)"
    return 0
  fi
  mkdir -p "$node_dir/logs"
  rm -f "$node_dir/kafka.pid"
  # shellcheck disable=SC2206
  local java_cmd=(java -Xms64m "-Xmx$heap" $KAFKA_JVM_FLAGS
    -Dlog4j2.configurationFile="$KAFKA_LOG4J_CONFIG" -Dkafka.logs.dir="$node_dir/logs"
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$node_dir/server.properties")
  # setsid detaches the JVM from the caller's session; the inner shell records its own pid, then execs java.
  # shellcheck disable=SC2016  # $$/$0/$@ are meant for the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$node_dir/kafka.pid" "${java_cmd[@]}" \
    </dev/null >>"$node_dir/logs/stdout.log" 2>&1 &
  for ((i = 0; i < 50; i++)); do
    [[ -s "$node_dir/kafka.pid" ]] && break
    sleep 0.1
  done
  sleep 0.5
  if ! pid="$(node_pid "$node_dir")"; then
    tail -n 30 "$node_dir/logs/stdout.log" >&2 || true
    die "broker in $node_dir exited immediately (see $node_dir/logs)"
  fi
  log "started $node_dir (pid $pid)"
}

# stop_nodes NODE_DIR... : SIGTERM all given nodes at once, wait, then SIGKILL stragglers; remove pid files.
# With KAFKA_QUORUMLESS_GRACE set (cluster), a node left alone once the others have exited gets only
# that many seconds: without a controller quorum its controlled shutdown cannot finish and would hang.
stop_nodes() {
  local dir pid deadline entry alive=() left lone_since=""
  for dir in "$@"; do
    if pid="$(node_pid "$dir")"; then
      kill -TERM "$pid" 2>/dev/null || true
      alive+=("$dir:$pid")
      log "SIGTERM $dir (pid $pid)"
    else
      rm -f "$dir/kafka.pid"
    fi
  done
  ((${#alive[@]})) || return 0
  deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while ((SECONDS < deadline)); do
    left=0
    for entry in "${alive[@]}"; do kill -0 "${entry##*:}" 2>/dev/null && left=$((left + 1)); done
    ((left)) || break
    if [[ -n "${KAFKA_QUORUMLESS_GRACE:-}" && ${#alive[@]} -gt 1 && $left -eq 1 ]]; then
      [[ -n "$lone_since" ]] || lone_since=$SECONDS
      ((SECONDS - lone_since < KAFKA_QUORUMLESS_GRACE)) || break
    fi
    sleep 0.2
  done
  for entry in "${alive[@]}"; do
    if kill -0 "${entry##*:}" 2>/dev/null; then
      log "SIGKILL ${entry%:*} (pid ${entry##*:}): still shutting down"
      kill -KILL "${entry##*:}" 2>/dev/null || true
    fi
  done
  deadline=$((SECONDS + 10))
  for entry in "${alive[@]}"; do
    while kill -0 "${entry##*:}" 2>/dev/null; do
      ((SECONDS < deadline)) || die "pid ${entry##*:} survived SIGKILL"
      sleep 0.1
    done
    rm -f "${entry%:*}/kafka.pid"
  done
}

# kill_node NODE_DIR : kill -9 one node (simulated crash) and wait for it to disappear.
kill_node() {
  local dir="$1" pid i
  pid="$(node_pid "$dir")" || die "node $dir is not running"
  kill -KILL "$pid"
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$dir/kafka.pid"; log "killed -9 $dir (pid $pid)"; return 0; }
    sleep 0.1
  done
  die "pid $pid survived SIGKILL"
}

# Settings every one-node test broker shares (single.sh, secure.sh): small thread pools, RF 1.
SINGLE_NODE_PROPS=(
  "num.network.threads=2"
  "num.io.threads=2"
  "background.threads=2"
  "num.partitions=4"
  "default.replication.factor=1"
  "min.insync.replicas=1"
  "offsets.topic.replication.factor=1"
  "offsets.topic.num.partitions=4"
  "transaction.state.log.replication.factor=1"
  "transaction.state.log.min.isr=1"
  "transaction.state.log.num.partitions=4"
  "share.coordinator.state.topic.replication.factor=1"
  "share.coordinator.state.topic.min.isr=1"
  "group.initial.rebalance.delay.ms=0"
)

# write_props FILE KEY=VALUE... : write a properties file.
write_props() {
  local file="$1"; shift
  printf '%s\n' "# Generated by infra/kafka scripts; edits are overwritten on start." "$@" >"$file"
}
