#!/usr/bin/env bash
# bench/documents.sh: consent documents through the API against minio-go talking to the same
# MinIO directly, in one run (issue 6, "Performance"): upload and download throughput for 1 MB
# and 100 MB files and their ratio, and the server's peak resident memory during a 100 MB
# upload. Starts private services (scripts/services.sh, test mode) and a seeded attivi on a
# loopback port; runs bench/documents. Needs the documents routes wired in (server/routes.go).
# Usage: bench/documents.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "${1:-}" != "--inside" ]; then
	go build -o bin/attivi .
	go build -o bin/bench-documents ./bench/documents
	exec scripts/services.sh --mode test exec -- "$0" --inside "$@"
fi
shift
port=$(( 20000 + RANDOM % 20000 ))
export ATTIVI_ENV=development ATTIVI_LISTEN=127.0.0.1:$port ATTIVI_LOG_LEVEL=warn
export ATTIVI_DOCUMENT_MAX_BYTES=$(( 200 << 20 ))
bin/attivi migrate >/dev/null
bin/attivi seed >/dev/null
bin/attivi serve >/tmp/attivi-bench-documents.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
bin/bench-documents -base "http://127.0.0.1:$port" -pid "$pid" -endpoint "$ATTIVI_S3_ENDPOINT" \
	-access-key "$ATTIVI_S3_ACCESS_KEY" -secret-key "$ATTIVI_S3_SECRET_KEY" -bucket "${ATTIVI_S3_BUCKET:-attivi}"
