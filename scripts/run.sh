#!/usr/bin/env bash
# scripts/run.sh [BIN]: migrate, seed, then serve in the foreground. `make run` calls it inside
# `scripts/services.sh --mode run exec --`, so the ATTIVI_* variables are already exported.
set -euo pipefail
bin=${1:-bin/attivi}
"$bin" migrate
"$bin" seed
listen=${ATTIVI_LISTEN:-:8080}
host=${listen%:*} port=${listen##*:}
case $host in "" | 0.0.0.0 | "[::]" | "::") host=localhost ;; esac
echo "attivi: serving on http://$host:$port (ATTIVI_ENV=${ATTIVI_ENV:-}); Ctrl-C stops attivi and the services"
exec "$bin" serve
