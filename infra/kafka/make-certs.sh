#!/usr/bin/env bash
# Make a throwaway CA and a broker certificate with openssl: make-certs.sh DIR [HOSTNAME...].
# Writes DIR/ca.pem (clients trust it), DIR/broker.p12 (PKCS12 keystore, password in
# DIR/keystore.password, mode 0600). Used by secure.sh for tests and for docker-compose.yml.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 DIR [HOSTNAME...]  (default names: localhost 127.0.0.1 kafka)" >&2; exit 2; }
dir="$1"; shift
names=("$@"); ((${#names[@]})) || names=(localhost 127.0.0.1 kafka)
mkdir -p "$dir"; chmod 700 "$dir"
umask 077
san=""
for n in "${names[@]}"; do
  if [[ "$n" =~ ^[0-9.]+$ ]]; then san+="IP:$n,"; else san+="DNS:$n,"; fi
done
san="${san%,}"
password="$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=marchwarden-kafka-ca" \
  -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=${names[0]}" \
  -keyout "$dir/broker.key" -out "$dir/broker.csr" 2>/dev/null
printf 'subjectAltName=%s\n' "$san" >"$dir/san.ext"
openssl x509 -req -days 30 -in "$dir/broker.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
  -CAcreateserial -extfile "$dir/san.ext" -out "$dir/broker.pem" 2>/dev/null
openssl pkcs12 -export -in "$dir/broker.pem" -inkey "$dir/broker.key" -certfile "$dir/ca.pem" \
  -name broker -out "$dir/broker.p12" -passout "pass:$password"
printf '%s' "$password" >"$dir/keystore.password"
rm -f "$dir/broker.csr" "$dir/san.ext" "$dir/ca.srl"
chmod 644 "$dir/ca.pem"
echo "$dir/ca.pem"
