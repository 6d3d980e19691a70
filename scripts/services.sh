#!/usr/bin/env bash
# scripts/services.sh - a private PostgreSQL and a private MinIO on loopback, for `make run`,
# `make test` and `make services` (DESIGN.md section 9).
#
# Executed (what the Makefile does):
#   scripts/services.sh [--mode run|test] [--data DIR] exec -- CMD [ARG...]
#       start the services, run CMD with the ATTIVI_* variables exported, stop exactly what was
#       started (also on failure or Ctrl-C), exit with CMD's status.
#   scripts/services.sh [--mode run|test] [--data DIR] up
#       start, print the variables, wait for Ctrl-C, stop.
#   scripts/services.sh [--mode run|test] [--data DIR] start
#       start and leave running; prints `export ...` lines:
#       eval "$(scripts/services.sh --mode run start)"  (test mode needs --data DIR).
#   scripts/services.sh [--data DIR] stop
#       stop the services whose data lives in DIR (default: the run data dir).
#   scripts/services.sh minio-bin     build the pinned MinIO if needed, print its path.
#   scripts/services.sh race-flag     print "-race" when the race detector can be used.
#
# Sourced (bash >= 4.4):
#   source scripts/services.sh
#   attivi_services_start test        # or: run [DIR]; exports the variables below
#   ...; attivi_services_stop         # put it in your EXIT trap
#   The public functions run with `set -euo pipefail` (restored on return), so a failure ends a
#   non-interactive shell; for interactive work use `make services`.
#
# Modes: run = data under ATTIVI_DATA_DIR or <repo>/.data (kept), PG 5433, MinIO 9100/9101;
#        test = fresh mktemp -d under /tmp (removed at stop), PG 55433, MinIO 59100/59101, fsync off.
# Port overrides: ATTIVI_PG_PORT, ATTIVI_MINIO_PORT, ATTIVI_MINIO_CONSOLE_PORT (run) and
# ATTIVI_TEST_PG_PORT, ATTIVI_TEST_MINIO_PORT, ATTIVI_TEST_MINIO_CONSOLE_PORT (test). A busy port
# is skipped for the next free one.
# When ATTIVI_DATABASE_URL is set PostgreSQL is not started; when ATTIVI_S3_ENDPOINT is set MinIO
# is not started.
# Exported: ATTIVI_DATABASE_URL, ATTIVI_S3_ENDPOINT, ATTIVI_S3_ACCESS_KEY, ATTIVI_S3_SECRET_KEY,
# ATTIVI_S3_BUCKET, ATTIVI_S3_SECURE, ATTIVI_TEST_MINIO_BIN.
# Other knobs: ATTIVI_CACHE_DIR (default $HOME/.cache/attivi; the MinIO build lives in its bin/),
# ATTIVI_MINIO_BIN (use this minio binary, no build), ATTIVI_PG_BIN (dir with initdb/pg_ctl).

# The pinned MinIO server (a Go module version); changing it rebuilds the cached binary.
ATTIVI_MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

_AS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
_AS_PG_USER_NAME=attivi     # database superuser (initdb -U)
_AS_PG_PASSWORD=attivi
_AS_PG_DB=attivi
_AS_S3_USER=attivi
_AS_S3_PASSWORD=attivi-secret-key

# State of what this shell started (attivi_services_stop reads it).
_AS_PG_DATA="" _AS_PG_BIN="" _AS_MINIO_PID="" _AS_MINIO_PIDFILE="" _AS_TEMP_ROOT="" _AS_SOCK_TEMP=""
_AS_LOCK_FD="" # held while choosing ports and starting, so concurrent runs do not pick the same ones

_as_log() { printf 'services: %s\n' "$*" >&2; }
_as_die() {
	printf 'services: error: %s\n' "$*" >&2
	exit 1
}
_as_is_root() { [ "$(id -u)" = 0 ]; }

# _as_sudo CMD...: run CMD as root (directly, or with sudo), or fail with a message.
_as_sudo() {
	if _as_is_root; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		_as_die "need root to run: $* (not root and no sudo); install it yourself and retry"
	fi
}

# _as_pg_run CMD...: run CMD as the user that owns the cluster (postgres when we are root).
_as_pg_run() {
	if _as_is_root; then
		if command -v runuser >/dev/null 2>&1; then
			(cd / && runuser -u postgres -- "$@")
		else
			local q
			q=$(printf '%q ' "$@")
			(cd / && su postgres -s /bin/sh -c "$q")
		fi
	else
		"$@"
	fi
}

# _as_port_busy PORT: true when something accepts connections on 127.0.0.1:PORT (bash /dev/tcp),
# or a socket listens on PORT on any address (/proc/net/tcp*, e.g. a server shutting down).
_as_port_busy() {
	timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null && return 0
	[ -n "$(_as_listen_inodes "$1")" ]
}

# _as_free_port START [TAKEN...]: first port >= START that is free and not in TAKEN.
_as_free_port() {
	local p=$1 t ok
	shift
	local end=$((p + 200))
	while [ "$p" -lt "$end" ]; do
		ok=1
		for t in "$@"; do [ "$t" = "$p" ] && ok=0; done
		if [ "$ok" = 1 ] && ! _as_port_busy "$p"; then
			echo "$p"
			return 0
		fi
		p=$((p + 1))
	done
	_as_die "no free port in $1..$((end - 1))"
}

# _as_listen_inodes PORT: socket inodes listening on TCP PORT (any address, IPv4 and IPv6).
_as_listen_inodes() {
	local hex
	hex=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		awk -v p="$hex" '$4 == "0A" { n = split($2, a, ":"); if (a[n] == p) print $10 }'
}

# _as_foreign_listeners PORT PID: how many sockets listen on PORT that PID does not own. MinIO
# binds with SO_REUSEPORT, so a second MinIO on a busy port does not fail: it shares the port
# with the first one. This tells.
_as_foreign_listeners() {
	local ino mine c=0
	mine=$(ls -l "/proc/$2/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p')
	for ino in $(_as_listen_inodes "$1"); do
		grep -qx "$ino" <<<"$mine" || c=$((c + 1))
	done
	echo "$c"
}

# _as_lock / _as_unlock: a machine-wide lock (flock on /tmp/attivi-services.lock) around port
# choice and start-up. Started services must not inherit the fd: launches close it with
# {_AS_LOCK_FD}<&-.
_as_lock() {
	local lf=/tmp/attivi-services.lock
	[ -e "$lf" ] || (umask 0 && : >>"$lf") 2>/dev/null || true
	if command -v flock >/dev/null 2>&1 && [ -f "$lf" ] && [ -r "$lf" ]; then
		exec {_AS_LOCK_FD}<"$lf"
		flock -w 300 "$_AS_LOCK_FD" || _as_log "warning: $lf still locked after 300s; going on"
	else
		exec {_AS_LOCK_FD}</dev/null
	fi
}
_as_unlock() {
	[ -n "$_AS_LOCK_FD" ] || return 0
	exec {_AS_LOCK_FD}<&-
	_AS_LOCK_FD=""
}

# _as_http_ok PORT PATH: true when GET http://127.0.0.1:PORT/PATH answers 200 (bash /dev/tcp, no curl).
_as_http_ok() {
	local line
	line=$(timeout 3 bash -c '
		exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
		printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n" "$1" "$0" >&3
		IFS= read -r l <&3 && printf "%s" "$l"' "$1" "$2" 2>/dev/null) || return 1
	[[ $line =~ ^HTTP/1\.[01]\ 200 ]]
}

# _as_alive PID: the process exists and is not a zombie.
_as_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

# _as_pg_bindir [MAJOR]: directory with initdb and pg_ctl (installing PostgreSQL when missing).
_as_pg_bindir() {
	local want=${1:-} d
	if [ -n "${ATTIVI_PG_BIN:-}" ]; then
		[ -x "$ATTIVI_PG_BIN/pg_ctl" ] && [ -x "$ATTIVI_PG_BIN/initdb" ] ||
			_as_die "ATTIVI_PG_BIN=$ATTIVI_PG_BIN has no pg_ctl/initdb"
		echo "$ATTIVI_PG_BIN"
		return
	fi
	if [ -n "$want" ]; then
		d=/usr/lib/postgresql/$want/bin
		[ -x "$d/pg_ctl" ] && { echo "$d"; return; }
		_as_die "the cluster in $_AS_ROOT/postgres was made by PostgreSQL $want, which is not installed here.
  Install it (apt-get install postgresql-$want) or remove the data (make clean-data) to start afresh."
	fi
	d=$(_as_pg_highest) && { echo "$d"; return; }
	if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
		dirname "$(command -v pg_ctl)"
		return
	fi
	command -v apt-get >/dev/null 2>&1 ||
		_as_die "PostgreSQL is not installed and apt-get is not available: install PostgreSQL (initdb, pg_ctl) or set ATTIVI_DATABASE_URL"
	_as_log "PostgreSQL not found: installing it with apt-get (the package's own cluster is not used)"
	_as_sudo env DEBIAN_FRONTEND=noninteractive apt-get update >&2
	_as_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
	d=$(_as_pg_highest) || _as_die "PostgreSQL was installed but no /usr/lib/postgresql/*/bin/pg_ctl was found"
	echo "$d"
}

_as_pg_highest() {
	local d best=""
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
		[ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ] && best=$d
	done
	[ -n "$best" ] && echo "$best"
}

# _as_check_pg_reach DIR: when root, the postgres user must be able to reach DIR.
_as_check_pg_reach() {
	_as_is_root || return 0
	local dir=$1 d="" part blocker=""
	_as_pg_run test -x "$dir" && return 0
	local -a parts
	IFS=/ read -ra parts <<<"${dir#/}"
	for part in "${parts[@]}"; do
		d="$d/$part"
		if ! _as_pg_run test -x "$d"; then
			blocker=$d
			break
		fi
	done
	[ -n "$blocker" ] || blocker=$dir
	_as_die "PostgreSQL refuses to run as root, so it runs as the 'postgres' user here, but that user
  cannot reach $dir: $blocker is not searchable by it ($(stat -c '%A %U:%G' "$blocker")).
  Fix one of:
    chmod o+x $blocker   # lets other users pass through it (not list it)
    ATTIVI_DATA_DIR=/var/tmp/attivi-data make run   # data where postgres can reach it
    ATTIVI_DATABASE_URL=postgres://... make run     # a PostgreSQL you already run"
}

_as_locale() {
	if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then echo C.UTF-8; else echo C; fi
}

# _as_pg_start MODE ROOT PORT: initdb when needed, start, create the database; exports the URL.
_as_pg_start() {
	local mode=$1 root=$2 port=$3
	local pgdata=$root/postgres log=$root/postgres.log sock=$root/run ver="" bin

	[ -f "$pgdata/PG_VERSION" ] && ver=$(cat "$pgdata/PG_VERSION")
	bin=$(_as_pg_bindir "$ver")
	_as_check_pg_reach "$root"

	# The unix socket path must fit in sun_path (107 bytes).
	if [ $((${#sock} + 20)) -gt 100 ]; then
		sock=$(mktemp -d /tmp/attivi-pgsock.XXXXXX)
		_AS_SOCK_TEMP=$sock
	fi
	mkdir -p "$pgdata" "$sock"
	touch "$log"
	if _as_is_root; then
		chown postgres: "$sock" "$log"
		chmod 0755 "$sock"
		if [ "$(stat -c %U "$pgdata")" != postgres ]; then
			chown -R postgres: "$pgdata"
		fi
	elif [ ! -O "$pgdata" ] || [ ! -O "$log" ]; then
		_as_die "$pgdata belongs to $(stat -c %U "$pgdata"), not to you (made by an earlier run as root?).
  Run as root again, or remove it (make clean-data) to start afresh."
	fi
	chmod 0700 "$pgdata"

	if [ -z "$ver" ]; then
		if [ -n "$(ls -A "$pgdata")" ]; then
			_as_die "$pgdata is not empty but holds no cluster (no PG_VERSION); remove it (make clean-data)"
		fi
		local pwfile=$root/.pgpass.initdb
		(umask 077 && printf '%s\n' "$_AS_PG_PASSWORD" >"$pwfile")
		_as_is_root && chown postgres: "$pwfile"
		local -a nosync=()
		[ "$mode" = test ] && nosync=(--no-sync)
		_as_log "initdb $pgdata ($(basename "$(dirname "$bin")"))"
		if ! _as_pg_run "$bin/initdb" -D "$pgdata" -U "$_AS_PG_USER_NAME" --auth-local=trust \
			--auth-host=scram-sha-256 --pwfile="$pwfile" -E UTF8 --locale="$(_as_locale)" \
			"${nosync[@]}" >"$root/initdb.log" 2>&1; then
			rm -f "$pwfile"
			cat "$root/initdb.log" >&2
			_as_die "initdb failed (log above, also in $root/initdb.log)"
		fi
		rm -f "$pwfile"
	fi

	# A server left running on this cluster by an earlier run that was killed: stop it first.
	if _as_pg_run "$bin/pg_ctl" status -D "$pgdata" >/dev/null 2>&1; then
		_as_log "stopping a PostgreSQL left running on $pgdata by an earlier run"
		_as_pg_run "$bin/pg_ctl" stop -D "$pgdata" -m fast -w >/dev/null 2>&1 || true
	fi

	local opts attempt size out
	_AS_PG_DATA=$pgdata _AS_PG_BIN=$bin
	for attempt in 1 2 3 4 5; do
		port=$(_as_free_port "$port")
		# pg_ctl hands -o to a shell: quote the socket path.
		opts="-c listen_addresses=127.0.0.1 -p $port -k '$sock' -c max_connections=200"
		[ "$mode" = test ] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
		size=$(stat -c %s "$log")
		if out=$(_as_pg_run "$bin/pg_ctl" start -w -t 60 -D "$pgdata" -l "$log" -o "$opts" 2>&1 {_AS_LOCK_FD}<&-); then
			break
		fi
		if tail -c +$((size + 1)) "$log" | grep -q 'could not bind\|Address already in use\|could not create lock file'; then
			_as_log "port $port was taken meanwhile, trying the next one"
			port=$((port + 1))
			[ "$attempt" = 5 ] && _as_die "PostgreSQL could not bind a port; see $log"
			continue
		fi
		printf '%s\n' "$out" >&2
		tail -c +$((size + 1)) "$log" | tail -n 20 >&2
		_as_die "PostgreSQL did not start (output above; log $log)"
	done

	local -a psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U "$_AS_PG_USER_NAME" -d postgres)
	if [ "$("${psql[@]}" -tAc "select 1 from pg_database where datname = '$_AS_PG_DB'")" != 1 ]; then
		"${psql[@]}" -c "create database $_AS_PG_DB" >/dev/null
	fi
	export ATTIVI_DATABASE_URL="postgres://$_AS_PG_USER_NAME:$_AS_PG_PASSWORD@127.0.0.1:$port/$_AS_PG_DB?sslmode=disable"
	_as_log "PostgreSQL on 127.0.0.1:$port (data $pgdata, log $log)"
}

_as_pg_stop() {
	[ -n "$_AS_PG_DATA" ] || return 0
	if [ -f "$_AS_PG_DATA/postmaster.pid" ]; then
		_as_pg_run "$_AS_PG_BIN/pg_ctl" stop -D "$_AS_PG_DATA" -m fast -w -t 60 >/dev/null 2>&1 ||
			_as_log "warning: pg_ctl stop failed for $_AS_PG_DATA"
	fi
	_AS_PG_DATA=""
}

# ---------------------------------------------------------------------------------------------
# MinIO

# _as_minio_bin: path of the pinned minio binary, built once into the cache.
_as_minio_bin() {
	if [ -n "${ATTIVI_MINIO_BIN:-}" ]; then
		[ -x "$ATTIVI_MINIO_BIN" ] || _as_die "ATTIVI_MINIO_BIN=$ATTIVI_MINIO_BIN is not executable"
		echo "$ATTIVI_MINIO_BIN"
		return
	fi
	local cache=${ATTIVI_CACHE_DIR:-${HOME:?HOME is not set}/.cache/attivi}/bin
	local bin=$cache/minio stamp=$cache/minio.version
	_as_minio_current "$bin" "$stamp" && { echo "$bin"; return; }

	command -v go >/dev/null 2>&1 || _as_die "go is not on PATH: needed to build MinIO"
	mkdir -p "$cache"
	local fd
	exec {fd}>"$cache/.minio.lock"
	if command -v flock >/dev/null 2>&1; then
		flock "$fd" # another run may be building the same thing: wait for it
	fi
	if ! _as_minio_current "$bin" "$stamp"; then
		local tmp buildlog=$cache/minio-build.log
		tmp=$(mktemp -d "$cache/.build.XXXXXX")
		_as_log "building MinIO $ATTIVI_MINIO_VERSION once into $cache (a few minutes; log $buildlog)"
		if ! (cd "$tmp" && GOBIN="$tmp" go install "github.com/minio/minio@$ATTIVI_MINIO_VERSION") >"$buildlog" 2>&1; then
			tail -n 30 "$buildlog" >&2
			rm -rf "$tmp"
			exec {fd}>&-
			_as_die "building MinIO failed (log above, also in $buildlog)"
		fi
		mv -f "$tmp/minio" "$bin"
		rm -rf "$tmp"
		echo "$ATTIVI_MINIO_VERSION" >"$stamp"
	fi
	exec {fd}>&-
	echo "$bin"
}

# _as_minio_current BIN STAMP: BIN is the pinned version (stamp, or the module version built in).
_as_minio_current() {
	local bin=$1 stamp=$2
	[ -x "$bin" ] || return 1
	[ "$(cat "$stamp" 2>/dev/null)" = "$ATTIVI_MINIO_VERSION" ] && return 0
	if command -v go >/dev/null 2>&1 &&
		go version -m "$bin" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]]+github.com/minio/minio[[:space:]]+$ATTIVI_MINIO_VERSION([[:space:]]|$)"; then
		echo "$ATTIVI_MINIO_VERSION" >"$stamp" 2>/dev/null || true
		return 0
	fi
	return 1
}

# _as_minio_kill_pidfile PIDFILE: stop the minio recorded in PIDFILE, if it still runs.
_as_minio_kill_pidfile() {
	local pidfile=$1 pid
	pid=$(cat "$pidfile" 2>/dev/null) || return 0
	if [ -n "$pid" ] && _as_alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'minio server'; then
		_as_minio_kill "$pid"
	fi
	rm -f "$pidfile"
}

_as_minio_kill() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 150); do
		_as_alive "$pid" || break
		sleep 0.1
	done
	if _as_alive "$pid"; then
		_as_log "minio ($pid) did not stop in 15s: killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true # reap it when it is our child
}

# _as_minio_start ROOT PORT CONSOLE_PORT TAKEN_PORT: start minio, wait until live; exports the S3 vars.
_as_minio_start() {
	local root=$1 port=$2 cport=$3 taken=$4
	local bin data=$root/minio log=$root/minio.log pidfile=$root/minio.pid
	bin=$(_as_minio_bin)
	mkdir -p "$data"
	if [ -s "$pidfile" ] && _as_alive "$(cat "$pidfile")"; then
		_as_log "stopping a MinIO left running on $data by an earlier run"
		_as_minio_kill_pidfile "$pidfile"
	fi
	rm -f "$pidfile"

	local user=${ATTIVI_S3_ACCESS_KEY:-$_AS_S3_USER} pass=${ATTIVI_S3_SECRET_KEY:-$_AS_S3_PASSWORD}
	local attempt i pid="" size shared
	local -a ss=()
	command -v setsid >/dev/null 2>&1 && ss=(setsid)
	for attempt in 1 2 3 4 5; do
		port=$(_as_free_port "$port" "$taken")
		cport=$(_as_free_port "$cport" "$taken" "$port")
		touch "$log"
		size=$(stat -c %s "$log")
		rm -f "$pidfile"
		pid="" shared=0
		# setsid: Ctrl-C in the terminal must not reach it; we stop it ourselves. The pid is
		# written by the shell that then execs minio, so it is right whether or not setsid forks.
		MINIO_ROOT_USER=$user MINIO_ROOT_PASSWORD=$pass MINIO_UPDATE=off \
			"${ss[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" \
			"$bin" server --address "127.0.0.1:$port" --console-address "127.0.0.1:$cport" "$data" \
			</dev/null >>"$log" 2>&1 {_AS_LOCK_FD}<&- &
		for i in $(seq 1 50); do
			pid=$(cat "$pidfile" 2>/dev/null) && [ -n "$pid" ] && break
			sleep 0.05
		done
		[ -n "$pid" ] || _as_die "minio did not start (no pid); see $log"
		_AS_MINIO_PID=$pid _AS_MINIO_PIDFILE=$pidfile
		for i in $(seq 1 600); do # 60s
			_as_http_ok "$port" /minio/health/live && break
			_as_alive "$pid" || break
			sleep 0.1
		done
		if _as_alive "$pid" && _as_http_ok "$port" /minio/health/live; then
			if [ "$(_as_foreign_listeners "$port" "$pid")" = 0 ] &&
				[ "$(_as_foreign_listeners "$cport" "$pid")" = 0 ]; then
				break
			fi
			_as_log "port $port or $cport is shared with another server (SO_REUSEPORT): moving on"
			shared=1
		fi
		_as_minio_kill "$pid"
		_AS_MINIO_PID=""
		if [ "$shared" = 1 ] || [ -n "$(_as_listen_inodes "$port")" ] || [ -n "$(_as_listen_inodes "$cport")" ] ||
			tail -c +$((size + 1)) "$log" | grep -qi 'address already in use'; then
			[ "$shared" = 1 ] || _as_log "port $port or $cport was taken meanwhile, trying the next ones"
			port=$((port + 1)) cport=$((cport + 1))
			[ "$attempt" = 5 ] && _as_die "minio could not bind a port; see $log"
			continue
		fi
		tail -c +$((size + 1)) "$log" | tail -n 20 >&2
		_as_die "minio did not become live on 127.0.0.1:$port (log above, also in $log)"
	done
	export ATTIVI_S3_ENDPOINT=127.0.0.1:$port
	export ATTIVI_S3_ACCESS_KEY=$user ATTIVI_S3_SECRET_KEY=$pass
	export ATTIVI_S3_BUCKET=${ATTIVI_S3_BUCKET:-attivi} ATTIVI_S3_SECURE=false
	export ATTIVI_TEST_MINIO_BIN=${ATTIVI_TEST_MINIO_BIN:-$bin}
	_as_log "MinIO on 127.0.0.1:$port, console 127.0.0.1:$cport (data $data, log $log)"
}

_as_minio_stop() {
	[ -n "$_AS_MINIO_PID" ] || return 0
	_as_minio_kill "$_AS_MINIO_PID"
	rm -f "$_AS_MINIO_PIDFILE"
	_AS_MINIO_PID=""
}

# ---------------------------------------------------------------------------------------------
# Public functions

# attivi_services_start MODE [DATA_ROOT]
attivi_services_start() {
	local -
	set -euo pipefail
	local mode=${1:-test} root=${2:-} pg_port m_port m_cport
	case $mode in
	run)
		pg_port=${ATTIVI_PG_PORT:-5433} m_port=${ATTIVI_MINIO_PORT:-9100}
		m_cport=${ATTIVI_MINIO_CONSOLE_PORT:-9101}
		;;
	test)
		pg_port=${ATTIVI_TEST_PG_PORT:-55433} m_port=${ATTIVI_TEST_MINIO_PORT:-59100}
		m_cport=${ATTIVI_TEST_MINIO_CONSOLE_PORT:-59101}
		;;
	*) _as_die "unknown mode '$mode' (run|test)" ;;
	esac

	if [ -z "${ATTIVI_DATABASE_URL:-}" ] || [ -z "${ATTIVI_S3_ENDPOINT:-}" ]; then
		if [ -z "$root" ]; then
			if [ "$mode" = run ]; then
				root=${ATTIVI_DATA_DIR:-$_AS_REPO/.data}
			else
				root=$(mktemp -d /tmp/attivi-test.XXXXXX)
				_AS_TEMP_ROOT=$root
			fi
		fi
		mkdir -p "$root"
		root=$(cd "$root" && pwd -P)
		_as_is_root && chmod go+rx "$root"
		_AS_ROOT=$root
	fi

	_as_lock
	if [ -n "${ATTIVI_DATABASE_URL:-}" ]; then
		_as_log "ATTIVI_DATABASE_URL is set: not starting PostgreSQL"
	else
		_as_pg_start "$mode" "$root" "$pg_port"
		pg_port=${ATTIVI_DATABASE_URL#*@127.0.0.1:} pg_port=${pg_port%%/*}
	fi

	if [ -n "${ATTIVI_S3_ENDPOINT:-}" ]; then
		_as_log "ATTIVI_S3_ENDPOINT is set: not starting MinIO"
		if [ -z "${ATTIVI_TEST_MINIO_BIN:-}" ]; then
			if [ "$mode" = test ]; then
				ATTIVI_TEST_MINIO_BIN=$(_as_minio_bin)
				export ATTIVI_TEST_MINIO_BIN
			else
				local cache=${ATTIVI_CACHE_DIR:-$HOME/.cache/attivi}/bin
				if _as_minio_current "$cache/minio" "$cache/minio.version"; then
					export ATTIVI_TEST_MINIO_BIN=$cache/minio
				fi
			fi
		fi
	else
		_as_minio_start "$root" "$m_port" "$m_cport" "$pg_port"
	fi
	_as_unlock
}

# attivi_services_stop: stop what attivi_services_start started in this shell; remove temp dirs.
attivi_services_stop() {
	local -
	set +e
	_as_unlock
	_as_minio_stop
	_as_pg_stop
	if [ -n "$_AS_SOCK_TEMP" ]; then rm -rf "$_AS_SOCK_TEMP"; _AS_SOCK_TEMP=""; fi
	if [ -n "$_AS_TEMP_ROOT" ]; then rm -rf "$_AS_TEMP_ROOT"; _AS_TEMP_ROOT=""; fi
	return 0
}

# attivi_services_stop_dir DIR: stop services whose data is in DIR (started by another process).
attivi_services_stop_dir() {
	local -
	set +e
	local root=$1 bin ver
	_as_minio_kill_pidfile "$root/minio.pid"
	if [ -f "$root/postgres/postmaster.pid" ]; then
		ver=$(cat "$root/postgres/PG_VERSION" 2>/dev/null)
		bin=$(_as_pg_bindir "$ver") || return 1
		_as_pg_run "$bin/pg_ctl" stop -D "$root/postgres" -m fast -w -t 60 >/dev/null 2>&1
	fi
	return 0
}

# attivi_race_flag: print -race when cgo works (installing gcc when root and apt-get exist).
attivi_race_flag() {
	local -
	set -euo pipefail
	local cc
	cc=$(go env CC 2>/dev/null || true)
	if [ "${CGO_ENABLED:-}" = 0 ]; then
		_as_log "CGO_ENABLED=0: running tests without -race"
		return 0
	fi
	if ! command -v "${cc%% *}" >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
		if command -v apt-get >/dev/null 2>&1 && { _as_is_root || command -v sudo >/dev/null 2>&1; }; then
			_as_log "no C compiler (the race detector needs cgo): installing gcc with apt-get"
			_as_sudo env DEBIAN_FRONTEND=noninteractive apt-get update >&2
			_as_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y gcc libc6-dev >&2
		else
			_as_log "warning: no C compiler, running tests without -race"
			return 0
		fi
	fi
	[ "$(go env CGO_ENABLED)" = 1 ] && echo -race
	return 0
}

# ---------------------------------------------------------------------------------------------
# Command line (only when executed, not when sourced)

_as_main() {
	set -euo pipefail
	local mode=test root="" cmd=""
	while [ $# -gt 0 ]; do
		case $1 in
		--mode) mode=${2:?--mode needs run or test}; shift 2 ;;
		--mode=*) mode=${1#*=}; shift ;;
		--data) root=${2:?--data needs a directory}; shift 2 ;;
		--data=*) root=${1#*=}; shift ;;
		-h | --help) sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; return 0 ;;
		-*) _as_die "unknown option $1" ;;
		*) cmd=$1; shift; break ;;
		esac
	done
	case $cmd in
	exec)
		[ "${1:-}" = -- ] && shift
		[ $# -gt 0 ] || _as_die "exec needs a command: exec -- CMD [ARG...]"
		trap attivi_services_stop EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
		trap 'exit 129' HUP
		attivi_services_start "$mode" "$root"
		local status=0
		"$@" || status=$?
		exit "$status"
		;;
	up)
		trap attivi_services_stop EXIT
		trap 'exit 0' INT TERM HUP
		attivi_services_start "$mode" "$root"
		_as_print_env >&2
		_as_log "running; Ctrl-C stops them"
		while { [ -z "$_AS_MINIO_PID" ] || _as_alive "$_AS_MINIO_PID"; } &&
			{ [ -z "$_AS_PG_DATA" ] || [ -f "$_AS_PG_DATA/postmaster.pid" ]; }; do
			sleep 2 &
			wait $! || true
		done
		_as_die "a service stopped on its own; see the logs in ${_AS_ROOT:-the data dir}"
		;;
	start)
		[ "$mode" = test ] && [ -z "$root" ] && _as_die "start in test mode needs --data DIR (nothing would remove a temp dir)"
		trap attivi_services_stop EXIT
		attivi_services_start "$mode" "$root"
		trap - EXIT
		_as_print_env
		;;
	stop)
		[ -n "$root" ] || root=${ATTIVI_DATA_DIR:-$_AS_REPO/.data}
		[ -d "$root" ] || return 0
		attivi_services_stop_dir "$(cd "$root" && pwd -P)"
		;;
	minio-bin) _as_minio_bin ;;
	race-flag) attivi_race_flag ;;
	"") _as_die "missing command (exec|up|start|stop|minio-bin|race-flag); see --help" ;;
	*) _as_die "unknown command '$cmd'; see --help" ;;
	esac
}

_as_print_env() {
	local v
	for v in ATTIVI_DATABASE_URL ATTIVI_S3_ENDPOINT ATTIVI_S3_ACCESS_KEY ATTIVI_S3_SECRET_KEY \
		ATTIVI_S3_BUCKET ATTIVI_S3_SECURE ATTIVI_TEST_MINIO_BIN; do
		[ -n "${!v:-}" ] && printf 'export %s=%q\n' "$v" "${!v}"
	done
	return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	_as_main "$@"
fi
