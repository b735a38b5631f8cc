#!/usr/bin/env bash
# Start (installing if needed) a throw-away PostgreSQL server on loopback for the tests of the
# production path. Idempotent: a server already answering on the port is reused.
#   scripts/postgres.sh start   -> prints the URL on stdout
#   scripts/postgres.sh stop
set -euo pipefail
PORT="${RETAIN_PG_PORT:-54329}"
DATA="${RETAIN_PG_DIR:-/tmp/retain-pg-$PORT}"
URL="postgresql://retain@127.0.0.1:$PORT/retain_test"

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

as_pg() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  if ! BIN=$(find_bin); then
    echo "installing PostgreSQL (Debian package postgresql)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
    BIN=$(find_bin)
  fi
  if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then echo "$URL"; return 0; fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    mkdir -p "$DATA"
    [ "$(id -u)" = "0" ] && chown postgres:postgres "$DATA"
    as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  as_pg "$BIN/pg_ctl" -D "$DATA" -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" -l "$DATA/server.log" -w start >/dev/null
  "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname='retain'" | grep -q 1 \
    || "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE ROLE retain LOGIN SUPERUSER" >/dev/null
  "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='retain_test'" | grep -q 1 \
    || "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE DATABASE retain_test OWNER retain" >/dev/null
  echo "$URL"
}

stop() {
  BIN=$(find_bin) || exit 0
  [ -f "$DATA/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null || true
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
