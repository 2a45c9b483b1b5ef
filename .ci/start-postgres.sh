#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1:$PGPORT and print its URL.
# Usage: eval "$(bash .ci/start-postgres.sh)"   (exports CREDITS_TEST_POSTGRES_URL and PG_STOP)
set -euo pipefail
PGPORT=${PGPORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGDIR=$(mktemp -d /tmp/credits-pg.XXXXXX)
chown postgres: "$PGDIR"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -t 30 \
  -o "-h 127.0.0.1 -p $PGPORT -k $PGDIR -c fsync=off -c synchronous_commit=off -c max_connections=200" start >/dev/null
"$PGBIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -v ON_ERROR_STOP=1 -qc 'CREATE DATABASE credits_test' >/dev/null
echo "export CREDITS_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$PGPORT/credits_test"
echo "export PG_STOP='runuser -u postgres -- $PGBIN/pg_ctl -D $PGDIR/data -m fast -w stop >/dev/null; rm -rf $PGDIR'"
