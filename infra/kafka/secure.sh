#!/usr/bin/env bash
# One KRaft Kafka node that only speaks SASL/SCRAM over TLS to clients: secure.sh start|stop DIR PORT.
# Clients: SASL_SSL on 127.0.0.1:PORT (SCRAM-SHA-512; trust DIR/certs/ca.pem). The broker talks
# to itself over SASL_PLAINTEXT on PORT+2 and to its controller on PORT+1, both loopback only.
# Users are created when the storage is formatted, with passwords from the environment only:
#   MARCHWARDEN_KAFKA_ADMIN_PASSWORD (the broker's own user "admin"),
#   MARCHWARDEN_KAFKA_CLIENT_USER / MARCHWARDEN_KAFKA_CLIENT_PASSWORD (the workers' user).
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ $# -ge 3 || ( $# -ge 2 && "$1" == stop ) ]] || { echo "usage: $0 start|stop DIR PORT" >&2; exit 2; }
cmd="$1"
mkdir -p "$2"
dir="$(cd "$2" && pwd)"
heap="${MARCHWARDEN_KAFKA_HEAP:-512m}"

case "$cmd" in
  start)
    port="$3"; cport=$((port + 1)); iport=$((port + 2))
    admin_pw="${MARCHWARDEN_KAFKA_ADMIN_PASSWORD:?set MARCHWARDEN_KAFKA_ADMIN_PASSWORD}"
    client="${MARCHWARDEN_KAFKA_CLIENT_USER:?set MARCHWARDEN_KAFKA_CLIENT_USER}"
    client_pw="${MARCHWARDEN_KAFKA_CLIENT_PASSWORD:?set MARCHWARDEN_KAFKA_CLIENT_PASSWORD}"
    ensure_fetched
    if pid="$(node_pid "$dir")"; then log "already running (pid $pid)"; exit 0; fi
    [[ -f "$dir/certs/broker.p12" ]] || bash "$KAFKA_SCRIPT_DIR/make-certs.sh" "$dir/certs" localhost 127.0.0.1 >/dev/null
    umask 077
    scram='org.apache.kafka.common.security.scram.ScramLoginModule required'
    write_props "$dir/server.properties" \
      "process.roles=broker,controller" \
      "node.id=1" \
      "controller.quorum.bootstrap.servers=127.0.0.1:$cport" \
      "listeners=SASL_SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport,INTERNAL://127.0.0.1:$iport" \
      "advertised.listeners=SASL_SSL://127.0.0.1:$port,INTERNAL://127.0.0.1:$iport" \
      "controller.listener.names=CONTROLLER" \
      "inter.broker.listener.name=INTERNAL" \
      "listener.security.protocol.map=SASL_SSL:SASL_SSL,INTERNAL:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT" \
      "sasl.enabled.mechanisms=SCRAM-SHA-512" \
      "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512" \
      "listener.name.internal.scram-sha-512.sasl.jaas.config=$scram username=\"admin\" password=\"$admin_pw\";" \
      "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$scram;" \
      "ssl.keystore.type=PKCS12" \
      "ssl.keystore.location=$dir/certs/broker.p12" \
      "ssl.keystore.password=$(cat "$dir/certs/keystore.password")" \
      "ssl.client.auth=none" \
      "log.dirs=$dir/data" \
      "${SINGLE_NODE_PROPS[@]}" \
      "auto.create.topics.enable=false" \
      "log.retention.hours=24"
    format_storage "$dir" "$(new_kafka_uuid)" --standalone \
      --add-scram "SCRAM-SHA-512=[name=admin,password=$admin_pw]" \
      --add-scram "SCRAM-SHA-512=[name=$client,password=$client_pw]"
    launch_node "$dir" "$heap"
    log "SASL_SSL node starting on 127.0.0.1:$port (CA: $dir/certs/ca.pem, logs: $dir/logs)"
    ;;
  stop)
    stop_nodes "$dir"
    ;;
  *) echo "usage: $0 start|stop DIR PORT" >&2; exit 2 ;;
esac
