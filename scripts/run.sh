#!/usr/bin/env bash
# scripts/run.sh [BIN]: migrate, seed, then serve in the foreground. `make run` calls it inside
# `scripts/services.sh --mode run exec --`, so the ATTIVI_* variables are already exported.
set -euo pipefail
bin=${1:-bin/attivi}
"$bin" migrate
if [ "${ATTIVI_ENV:-development}" = development ]; then
	# The network, the demo accounts and a small fictitious population, so
	# that the demo accounts see persons, links and consents (idempotent: a
	# second run adds nothing).
	"$bin" seed --synthetic "${ATTIVI_DEMO_PERSONS:-300}" | grep -v '^synthetic: [0-9]*/'
else
	"$bin" seed
fi
listen=${ATTIVI_LISTEN:-:8080}
host=${listen%:*} port=${listen##*:}
case $host in "" | 0.0.0.0 | "[::]" | "::") host=localhost ;; esac
echo "attivi: serving on http://$host:$port (ATTIVI_ENV=${ATTIVI_ENV:-}); Ctrl-C stops attivi and the services"
echo "attivi: web interface http://$host:$port/ (log in with a demo account above); API http://$host:$port/api/v1, described at /api/openapi.json"
exec "$bin" serve
