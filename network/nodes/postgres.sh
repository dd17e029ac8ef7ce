#!/usr/bin/env bash
# PostgreSQL, natively (Debian's server), one cluster under the project's git-ignored state folder, on loopback.
# Usage: postgres.sh up|down|status|url
# Overrides (defaults in network/network.sh): TIEZHENG_STATE, TIEZHENG_PG_PORT, TIEZHENG_PG_DB.
# Dev/test only: trust authentication on 127.0.0.1; production uses the deployment's own PostgreSQL.
set -euo pipefail

STATE=${TIEZHENG_STATE:-$(cd "$(dirname "$0")/../.." && pwd)/.tiezheng/services}
PORT=${TIEZHENG_PG_PORT:-54329}
DB=${TIEZHENG_PG_DB:-tiezheng}
DATA="$STATE/postgres"
RUN_AS=(runuser -u postgres --)

pg_bin() {
  local initdb
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$initdb" ]; then
    echo "postgres: installing Debian's postgresql (apt-get)…" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
  fi
  dirname "$initdb"
}

is_up() { [ -f "$DATA/postmaster.pid" ] && "${RUN_AS[@]}" "$(pg_bin)/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

up() {
  local bin; bin=$(pg_bin)
  if is_up; then echo "postgres: already running on 127.0.0.1:$PORT"; return; fi
  mkdir -p "$STATE" && chmod 755 "$STATE"
  if [ ! -f "$DATA/PG_VERSION" ]; then
    install -d -o postgres -g postgres -m 700 "$DATA"
    "${RUN_AS[@]}" "$bin/initdb" -D "$DATA" --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  "${RUN_AS[@]}" "$bin/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$DATA -c fsync=on" start >/dev/null
  "${RUN_AS[@]}" "$bin/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" \
    | grep -q 1 || "${RUN_AS[@]}" "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
  echo "postgres: running on 127.0.0.1:$PORT, data in $DATA, database $DB"
}

down() {
  if is_up; then "${RUN_AS[@]}" "$(pg_bin)/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null; echo "postgres: stopped"
  else echo "postgres: not running"; fi
}

status() { if is_up; then echo "postgres: running on 127.0.0.1:$PORT ($DATA)"; else echo "postgres: stopped"; fi; }

url() { echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/$DB"; }

case "${1:-}" in
  up|down|status|url) "$1" ;;
  *) echo "usage: $0 up|down|status|url" >&2; exit 2 ;;
esac
