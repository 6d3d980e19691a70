#!/usr/bin/env bash
# bench/auth.sh: what authentication costs per request. Starts private
# services (scripts/services.sh, test mode), a seeded attivi on a loopback
# port, logs in a demo account, then loads GET /healthz and the authenticated
# GET /api/v1/me with wrk (Debian package `wrk`) and prints both results.
# Usage: bench/auth.sh [DURATION (10s)] [CONNECTIONS (16)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "${1:-}" != "--inside" ]; then
	command -v wrk >/dev/null || { echo "bench: install wrk first (apt-get install -y wrk)" >&2; exit 1; }
	go build -o bin/attivi .
	exec scripts/services.sh --mode test exec -- "$0" --inside "$@"
fi
shift
duration=${1:-10s} conns=${2:-16}
port=$(( 20000 + RANDOM % 20000 ))
export ATTIVI_ENV=development ATTIVI_LISTEN=127.0.0.1:$port ATTIVI_LOG_LEVEL=warn
bin/attivi migrate >/dev/null
bin/attivi seed >/dev/null
bin/attivi serve >/tmp/attivi-bench-auth.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
token=$(curl -fsS "http://127.0.0.1:$port/api/v1/auth/login" -H 'Content-Type: application/json' \
	-d '{"email":"assistente.sociale@attivi.example","password":"attivi-demo-2026"}' |
	sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "bench: login failed" >&2; exit 1; }
echo "== GET /healthz ($duration, $conns connections)"
wrk -t2 -c"$conns" -d"$duration" --latency "http://127.0.0.1:$port/healthz"
echo
echo "== GET /api/v1/me, authenticated ($duration, $conns connections)"
wrk -t2 -c"$conns" -d"$duration" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/me"
