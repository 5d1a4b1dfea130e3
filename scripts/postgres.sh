#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite, on loopback only, under .cache/pg.
#
#   scripts/postgres.sh start   initialise once (initdb), start if not running, print the SQLAlchemy URL
#   scripts/postgres.sh stop    stop the cluster (data stays for the next start)
#   scripts/postgres.sh url     print the SQLAlchemy URL (postgresql+psycopg://...)
#   scripts/postgres.sh status  exit 0 when running
#
# Uses Debian's server binaries (/usr/lib/postgresql/<version>/bin). PostgreSQL refuses to run as root, so
# when we are root the cluster belongs to the `postgres` OS user (created by the Debian package).
# Trust authentication is safe here: the server listens on 127.0.0.1 and a private socket folder only.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${SANGDAM_PG_PORT:-54329}
ROOT="$PWD/.cache/pg"
# As root, the cluster belongs to `postgres`, which may not be able to enter the checkout (e.g. under /root):
# then it lives in /tmp instead, under a name derived from the checkout's path.
if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$PWD"; then
  ROOT="/tmp/sangdam-pg-$(printf %s "$PWD" | sha1sum | cut -c1-8)"
fi
DATA="$ROOT/data"
SOCK="$ROOT/run"
LOG="$ROOT/server.log"
URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/postgres"

die() { echo "postgres.sh: $*" >&2; exit 1; }

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)"
  echo "$d"
}

# Run a server binary as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root and there is no 'postgres' OS user to own the cluster"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() { as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

start() {
  mkdir -p "$ROOT"
  # Several test sessions may start at once: one initialises and starts, the others wait for it.
  exec 9>"$ROOT/.lock"
  flock -w 120 9 || die "timed out waiting for $ROOT/.lock"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root and there is no 'postgres' OS user to own the cluster"
    chown postgres "$ROOT"
    as_owner test -x "$ROOT" || die "user postgres cannot reach $ROOT (check the permissions of its parent folders)"
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$ROOT/initdb.log" 2>&1 \
      || as_owner "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C >"$ROOT/initdb.log" 2>&1 \
      || die "initdb failed (see $ROOT/initdb.log)"
  fi
  if ! running; then
    as_owner mkdir -p "$SOCK"
    # 9>&- : the server must not inherit (and hold forever) the lock.
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start 9>&- \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$SOCK -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      >/dev/null || die "the server did not start (see $LOG)"
  fi
  "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 30 || die "the server is not accepting connections on port $PORT (see $LOG)"
  echo "$URL"
}

stop() {
  [ -f "$DATA/PG_VERSION" ] || exit 0
  if running; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  fi
}

BIN=$(bindir)
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  status) running ;;
  *) echo "usage: $0 start|stop|url|status" >&2; exit 2 ;;
esac
