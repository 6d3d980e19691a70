#!/usr/bin/env bash
# bench/referrals.sh: the referrals API under load (issue 5, "Performance").
# Starts private services (scripts/services.sh, test mode: a fresh PostgreSQL
# with fsync off) and runs the Go program bench/referrals, which migrates,
# seeds the network, generates PERSONS synthetic persons (synth.Generate) and
# REFERRALS referrals (synth.GenerateReferrals), serves the referral handlers
# over loopback HTTP in its own process and measures:
#   - the incoming inbox (GET /api/v1/referrals?direction=incoming&limit=50,
#     with &status=requested, and page 2 by cursor) as the job coaches of the
#     cooperatives and training agencies: p50/p90/p99/max and throughput with
#     CLIENTS concurrent clients, and the scans of the referrals table;
#   - transitions (in-progress <-> on-hold, GET then POST with If-Match) with
#     WRITERS concurrent writers over HOT referrals: throughput, conflicts,
#     latency, and the check that no update was lost (versions grew by
#     exactly the successful transitions, events are versions 1..version).
# With ATTIVI_DATABASE_URL set, that database is used (and filled) instead.
# Usage: bench/referrals.sh [PERSONS (100000)] [REFERRALS (300000)] [DURATION (20s)] [CLIENTS (8)] [WRITERS (8)] [HOT (100)]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "${1:-}" != "--inside" ]; then
	go build -o bin/bench-referrals ./bench/referrals
	exec scripts/services.sh --mode test exec -- "$0" --inside "$@"
fi
shift
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
exec bin/bench-referrals -persons "${1:-100000}" -referrals "${2:-300000}" -duration "${3:-20s}" \
	-c "${4:-8}" -writers "${5:-8}" -hot "${6:-100}"
