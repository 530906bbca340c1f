#!/usr/bin/env bash
# Block until Kafka broker(s) answer metadata: wait-ready.sh HOST:PORT[,HOST:PORT...] [TIMEOUT] [--brokers N].
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -ge 1 ]] || { echo "usage: $0 HOST:PORT[,HOST:PORT...] [TIMEOUT_SECONDS] [--brokers N]" >&2; exit 2; }
python="${MARCHWARDEN_PYTHON:-$here/../../.venv/bin/python}"
[[ -x "$python" ]] || python="$(command -v python3)"
# The Python side enforces TIMEOUT; the outer timeout is a backstop in case the interpreter itself hangs.
budget="${2:-60}"
[[ "$budget" =~ ^[0-9]+([.][0-9]+)?$ ]] || budget=60
exec timeout "$(( ${budget%.*} + 30 ))" "$python" "$here/wait_ready.py" "$@"
