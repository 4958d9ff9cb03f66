#!/bin/bash
# First start (empty $PGDATA): initdb, then the user and databases of the environment,
# with a server on the Unix socket only; then exec postgres, listening on every address.
#   POSTGRES_USER      (postgres)   the superuser, owner of the databases
#   POSTGRES_PASSWORD  (required unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_DB        ($POSTGRES_USER)
#   POSTGRES_DATABASES more databases, space- or comma-separated (e.g. "prefect")
#   POSTGRES_HOST_AUTH_METHOD (scram-sha-256) for connections over TCP
#   /docker-entrypoint-initdb.d/*.sql, *.sh  run once, after the databases, as in the
#                                            official image (psql as POSTGRES_USER on POSTGRES_DB)
# Started as root (a bind mount owned by root), it fixes $PGDATA's owner and drops to postgres.
set -euo pipefail
: "${PGDATA:=/var/lib/postgresql/data}"
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ "${1:-postgres}" != postgres ]; then exec "$@"; fi   # e.g. `psql ...`, `bash`

POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
POSTGRES_DATABASES=${POSTGRES_DATABASES:-}
AUTH=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$AUTH" != trust ]; then
    echo "postgres-entrypoint: set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  echo "postgres-entrypoint: initialising $PGDATA for $POSTGRES_USER"
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host="$AUTH" >/dev/null
  rm -f "$pwfile"
  printf 'host all all all %s\n' "$AUTH" >>"$PGDATA/pg_hba.conf"
  # initialised on the socket only: nothing reaches it from outside before it is ready
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c jit=off" start >/dev/null
  psql=(psql -v ON_ERROR_STOP=1 -X -q -U "$POSTGRES_USER")
  for db in $POSTGRES_DB ${POSTGRES_DATABASES//,/ }; do
    if [ "$("${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
      "${psql[@]}" -d postgres -c "CREATE DATABASE \"$db\" OWNER \"$POSTGRES_USER\""
      echo "postgres-entrypoint: database $db"
    fi
  done
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sql) echo "postgres-entrypoint: $f"; "${psql[@]}" -d "$POSTGRES_DB" -f "$f" ;;
      *.sh)  echo "postgres-entrypoint: $f"; . "$f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "postgres-entrypoint: ready for start"
fi
shift || true
exec postgres -D "$PGDATA" -c listen_addresses='*' -c jit=off "$@"
