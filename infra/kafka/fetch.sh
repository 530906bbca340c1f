#!/usr/bin/env bash
# Fetch the Apache Kafka broker jars (plus a log4j2 SLF4J binding) from Maven Central into the local cache.
set -euo pipefail
# shellcheck source=lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

if [[ -f "$KAFKA_COMPLETE_MARKER" ]]; then
  log "Kafka $KAFKA_VERSION already fetched: $KAFKA_LIBS ($(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars)"
  exit 0
fi
command -v mvn >/dev/null || die "mvn not found (Maven 3.8+ required)"
command -v java >/dev/null || die "java not found (Java 17+ required)"

log "fetching Kafka $KAFKA_VERSION into $KAFKA_LIBS"
mkdir -p "$KAFKA_HOME_DIR"
tmp="$(mktemp -d "$KAFKA_HOME_DIR/.libs.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
# timeout: a stuck registry connection must not hang callers forever.
timeout "${MARCHWARDEN_KAFKA_FETCH_TIMEOUT:-900}" \
  mvn -q -B -Dstyle.color=never -f "$KAFKA_PACKAGE_DIR/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 \
  | sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' >&2 \
  || die "maven dependency download failed"

n="$(find "$tmp" -name '*.jar' | wc -l)"
for required in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-server-$KAFKA_VERSION.jar" "kafka-raft-$KAFKA_VERSION.jar" \
  "kafka-metadata-$KAFKA_VERSION.jar" "kafka-storage-$KAFKA_VERSION.jar" "log4j-slf4j-impl-"; do
  compgen -G "$tmp/$required*" >/dev/null || die "expected jar $required missing after download"
done
rm -rf "$KAFKA_LIBS"
mv "$tmp" "$KAFKA_LIBS"
trap - EXIT
printf 'version=%s\njars=%s\n' "$KAFKA_VERSION" "$n" >"$KAFKA_COMPLETE_MARKER"
log "fetched $n jars in $((SECONDS - start))s -> $KAFKA_LIBS"
