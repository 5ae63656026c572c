#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the tests, on 127.0.0.1 and a free port.
#
#   eval "$(scripts/start-postgres.sh)"      # exports MODELPORT_TEST_POSTGRES_URL
#   scripts/start-postgres.sh --stop DIR     # stops it again (DIR is MODELPORT_TEST_POSTGRES_DIR)
#
# Only `export ...` lines go to stdout; progress goes to stderr. Uses Debian's postgresql
# binaries (PGBIN, default the newest /usr/lib/postgresql/*/bin). As root the server runs as the
# `postgres` user, since PostgreSQL refuses to run as root.
set -euo pipefail

newest_pgbin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
PGBIN=${PGBIN:-$(newest_pgbin)}
DB_NAME=${MODELPORT_TEST_POSTGRES_DB:-modelport}
DB_USER=modelport

as_server_user() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if [ "${1:-}" = "--stop" ]; then
  dir=${2:?usage: start-postgres.sh --stop DIR}
  as_server_user "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >&2
  rm -rf "$dir"
  exit 0
fi

if [ ! -x "$PGBIN/initdb" ]; then
  echo "start-postgres: no PostgreSQL at $PGBIN (apt-get install postgresql)" >&2
  exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/modelport-postgres.XXXXXX")
chmod 755 "$dir"
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

as_server_user "$PGBIN/initdb" -D "$dir/data" -U "$DB_USER" --auth=trust -E UTF8 \
  --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
# fsync off: the data is thrown away, and the tests should measure our code, not the disk.
as_server_user "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" \
  start >&2 || { cat "$dir/server.log" >&2; exit 1; }
as_server_user "$PGBIN/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB_NAME" >&2

echo "start-postgres: PostgreSQL on 127.0.0.1:$port, data in $dir" >&2
echo "export MODELPORT_TEST_POSTGRES_URL=postgresql+psycopg://$DB_USER@127.0.0.1:$port/$DB_NAME"
echo "export MODELPORT_TEST_POSTGRES_DIR=$dir"
