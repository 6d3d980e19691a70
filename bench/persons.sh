#!/usr/bin/env bash
# bench/persons.sh: the persons API under load (issue 4, "Performance").
# Starts private services (scripts/services.sh, test mode), seeds the network
# with N synthetic persons (attivi seed --synthetic N), adds a social worker
# to the municipality that owns the most persons and, as that user:
#   1. counts the SQL statements per request (log_statement = 'all' and
#      pg_stat_database.xact_commit) for lists of 10 and 200 and by id;
#   2. prints EXPLAIN (ANALYZE, BUFFERS) of the list, search and by-id
#      queries exactly as the service ran them (taken from the server log);
#   3. loads GET /api/v1/persons?limit=50, ?q=<surname>&limit=50 and
#      /api/v1/persons/{id} (random visible ids) at a fixed rate with the
#      open-loop generator bench/load (p50/p90/p99/max), then at full speed
#      with wrk (closed loop: throughput).
# Usage: bench/persons.sh [PERSONS (100000)] [RATE (200)] [DURATION (30s)] [SURNAME (rossi)]
# Needs wrk, jq and psql (Debian packages wrk, jq, postgresql-client).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "${1:-}" != "--inside" ]; then
	for c in wrk jq psql curl; do
		command -v "$c" >/dev/null || { echo "bench: install $c first" >&2; exit 1; }
	done
	go build -o bin/attivi .
	go build -o bin/bench-load ./bench/load
	go build -o bin/bench-explain ./bench/explain
	exec scripts/services.sh --mode test exec -- "$0" --inside "$@"
fi
shift
persons=${1:-100000} rate=${2:-200} duration=${3:-30s} surname=${4:-rossi}
port=$(( 20000 + RANDOM % 20000 ))
base="http://127.0.0.1:$port"
export ATTIVI_ENV=development ATTIVI_LISTEN=127.0.0.1:$port ATTIVI_LOG_LEVEL=warn
work=$(mktemp -d /tmp/attivi-bench-persons.XXXXXX)
pid=""
stop_server() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=""
	fi
}
trap 'stop_server; rm -rf "$work"' EXIT
start_server() {
	bin/attivi serve >>"$work/serve.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		curl -fsS "$base/readyz" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$work/serve.log" >&2
	echo "bench: attivi serve did not get ready" >&2
	exit 1
}
sql() { psql -X -q -At -v ON_ERROR_STOP=1 "$ATTIVI_DATABASE_URL" -c "$1"; }
db=$(sql "SELECT current_database()")
pglog="$(dirname "$(sql "SHOW data_directory")")/postgres.log"
[ -r "$pglog" ] || { echo "bench: cannot read the PostgreSQL log $pglog" >&2; exit 1; }

echo "== machine: $(nproc) cores, $(sql "SHOW server_version"), fsync $(sql "SHOW fsync") (test mode)"
bin/attivi migrate >/dev/null
echo "== seed --synthetic $persons"
t0=$(date +%s.%N)
bin/attivi seed --synthetic "$persons" | grep '^synthetic:'
printf 'seed took %.1fs\n' "$(echo "$(date +%s.%N) - $t0" | bc)"
# The seed is a bulk load: vacuum and analyze now, as autovacuum would soon
# do on its own, so that it does not run in the middle of a measurement.
sql "VACUUM (ANALYZE)"
sql "SELECT 'tables: persons ' || (SELECT count(*) FROM persons) || ', person_links ' || (SELECT count(*) FROM person_links)
	|| ', consents ' || (SELECT count(*) FROM consents) || ', consent_grants ' || (SELECT count(*) FROM consent_grants)"

# The municipality that owns the most persons, and a social worker of it.
tenant=$(sql "SELECT t.slug FROM person_links l JOIN tenants t ON t.id = l.tenant_id
	WHERE l.kind = 'owner' AND l.ended_at IS NULL AND t.kind = 'municipality' GROUP BY t.slug ORDER BY count(*) DESC LIMIT 1")
password=attivi-bench-persons-2026
echo "$password" | bin/attivi users add --tenant "$tenant" --email bench.persons@attivi.example \
	--role social_worker --password-stdin >/dev/null
visible=$(sql "SELECT count(DISTINCT l.person_id) FROM person_links l JOIN tenants t ON t.id = l.tenant_id
	WHERE t.slug = '$tenant' AND l.ended_at IS NULL AND l.valid_from <= now() AND (l.valid_until IS NULL OR l.valid_until > now())")
echo "== acting as social_worker of $tenant, which has an active link to $visible persons"

# Phase 1: every statement logged, on fresh connections.
sql "ALTER DATABASE \"$db\" SET log_statement = 'all'"
start_server
token=$(curl -fsS "$base/api/v1/auth/login" -H 'Content-Type: application/json' \
	-d "{\"email\":\"bench.persons@attivi.example\",\"password\":\"$password\"}" | jq -r .token)
[ -n "$token" ] && [ "$token" != null ] || { echo "bench: login failed" >&2; exit 1; }
auth="Authorization: Bearer $token"

# Visible ids: the first 10 pages of 200.
: >"$work/ids"
cursor=""
for _ in $(seq 10); do
	curl -fsS -H "$auth" "$base/api/v1/persons?limit=200${cursor:+&cursor=$cursor}" >"$work/page"
	jq -r '.items[].id' "$work/page" >>"$work/ids"
	cursor=$(jq -r '.next_cursor // empty' "$work/page")
	[ -n "$cursor" ] || break
done
echo "collected $(wc -l <"$work/ids") visible person ids"
sed "s|^|$base/api/v1/persons/|" "$work/ids" >"$work/id-urls"
sed 's|^|/api/v1/persons/|' "$work/ids" >"$work/id-paths"
matches=$(curl -fsS -H "$auth" "$base/api/v1/persons?limit=200&q=$surname" | jq '.items | length')
echo "a search for \"$surname\" finds $matches persons in the first page of 200"

# statements LOG: the first line of each statement logged in LOG.
statements() {
	awk '/\] LOG:  (statement|execute [^:]*): / { sub(/.*\] LOG:  (statement|execute [^:]*): */, "")
			if ($0 != "") { print; want = 0 } else want = 1; next }
		want && NF { sub(/^[ \t]+/, ""); print; want = 0 }' "$1"
}
xacts() { sql "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }
# count NAME N URL...: N requests at 20/s (every statement is logged: this
# is not the speed test); statements from the log (less the policy watcher's
# version checks), transactions from pg_stat_database.
count() {
	local name=$1 n=$2
	shift 2
	local off0 x0 off1 x1 stmts watcher
	off0=$(stat -c %s "$pglog")
	x0=$(xacts)
	bin/bench-load -rate 20 -warmup 0 -duration "$(( n / 20 ))s" -H "$auth" "$@" >"$work/count.out"
	grep -q " $n ok, 0 errors" "$work/count.out" || { cat "$work/count.out" >&2; exit 1; }
	sleep 11 # backends report their counters to pg_stat at most every 10s when idle
	off1=$(stat -c %s "$pglog")
	x1=$(xacts)
	tail -c +$((off0 + 1)) "$pglog" | head -c $((off1 - off0)) >"$work/count.log"
	statements "$work/count.log" >"$work/count.stmts"
	watcher=$(grep -c 'FROM policy_state' "$work/count.stmts" || true)
	grep -v 'FROM policy_state\|pg_stat_database' "$work/count.stmts" >"$work/count.app" || true
	stmts=$(wc -l <"$work/count.app")
	printf '  %-34s %4d requests: %5d statements = %5.2f per request; %5d transactions = %5.2f per request\n' \
		"$name" "$n" "$stmts" "$(echo "$stmts / $n" | bc -l)" "$((x1 - x0 - 1 - watcher))" "$(echo "($x1 - $x0 - 1 - $watcher) / $n" | bc -l)"
	if [ "$stmts" -ge "$n" ]; then # the statements of the last request, first line of each
		tail -n $((stmts / n)) "$work/count.app" | cut -c1-100 | sed 's/^/      | /'
	fi
}
echo
echo "== SQL statements per request (log_statement = 'all'; transactions from pg_stat_database)"
count "GET /persons?limit=10" 100 "$base/api/v1/persons?limit=10"
count "GET /persons?limit=200" 100 "$base/api/v1/persons?limit=200"
count "GET /persons?q=$surname&limit=50" 100 "$base/api/v1/persons?q=$surname&limit=50"
count "GET /persons/{id}" 100 -urls "$work/id-urls"

echo
echo "== EXPLAIN (ANALYZE, BUFFERS), statements as the service ran them"
bin/bench-load -rate 20 -warmup 0 -duration 1s -H "$auth" "$base/api/v1/persons?limit=50" >/dev/null
bin/bench-load -rate 20 -warmup 0 -duration 1s -H "$auth" "$base/api/v1/persons?q=$surname&limit=50" >/dev/null
bin/bench-explain -log "$pglog" -title "-- list: GET /api/v1/persons?limit=50 (walks the tenant's links in name order)" \
	-contains 'FROM person_links pl' -contains 'DISTINCT ON' -exclude 'LIKE'
echo
bin/bench-explain -log "$pglog" -title "-- search: GET /api/v1/persons?q=$surname&limit=50 (the same walk, filtered on the name)" \
	-contains 'FROM person_links pl' -contains 'LIKE'
echo
bin/bench-explain -log "$pglog" -title "-- by id, 1/2: the access facts" -contains 'AS granted'
echo
bin/bench-explain -log "$pglog" -title "-- by id, 2/2: the record" -contains 'WHERE p.id = $1'

# settle: wait (up to 2 minutes) until the server has drained what a run
# left behind (requests the load generator gave up on still run).
settle() {
	local i
	for i in $(seq 240); do
		[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()")" = 0 ] && break
		sleep 0.5
	done
	[ "$i" -gt 2 ] && echo "  (waited $((i / 2))s for the server to drain the previous run)"
	return 0
}

# Phase 2: no statement logging, fresh connections.
stop_server
sql "ALTER DATABASE \"$db\" RESET log_statement"
start_server
echo
echo "== fixed rate: $rate req/s for $duration (bench/load, open loop; latency from the scheduled send time)"
settle
bin/bench-load -name "GET /api/v1/persons?limit=50" -rate "$rate" -duration "$duration" -H "$auth" "$base/api/v1/persons?limit=50"
settle
bin/bench-load -name "GET /api/v1/persons?q=$surname&limit=50" -rate "$rate" -duration "$duration" -H "$auth" "$base/api/v1/persons?q=$surname&limit=50"
settle
bin/bench-load -name "GET /api/v1/persons/{id} (random of $(wc -l <"$work/ids"))" -rate "$rate" -duration "$duration" -H "$auth" -urls "$work/id-urls"

echo
echo "== full speed: wrk, 2 threads, 4 connections, 10s (closed loop: throughput)"
echo "/api/v1/persons?limit=50" >"$work/list-paths"
echo "/api/v1/persons?q=$surname&limit=50" >"$work/search-paths"
for what in list search id; do
	settle
	echo "-- $what"
	WRK_PATHS="$work/$what-paths" wrk -t2 -c4 -d10s --latency -s bench/persons.lua -H "$auth" "$base" |
		grep -E 'Requests/sec|Latency  |50%|90%|99%|Non-2xx|Socket errors'
done
echo
sql "SELECT 'access_log: ' || count(*) || ' rows, ' || pg_size_pretty(pg_total_relation_size('access_log'))
	|| '; access_log_head (one row): ' || pg_size_pretty(pg_relation_size('access_log_head')) FROM access_log"
