#!/usr/bin/env bash
# Start Debian's PostgreSQL cluster and give the current user a test database, idempotently.
# Prints the database URL the tests use (MAUM_TEST_POSTGRES_URL). Connections go over the Unix
# socket with peer authentication: no password, no TCP port.
set -euo pipefail
db=${MAUM_TEST_POSTGRES_DB:-maum_test}
user=$(id -un)
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }

read -r version cluster status < <(pg_lsclusters --no-header | awk 'NR==1 {print $1, $2, $4}')
if [ -z "${version:-}" ]; then
  echo "no PostgreSQL cluster found (is the postgresql package installed?)" >&2
  exit 1
fi
if [ "$status" != online ]; then
  # Only the URL may reach stdout (the Makefile captures it): pg_ctlcluster's messages, such as
  # "Removed stale pid file.", go to stderr.
  if [ "$(id -u)" -eq 0 ]; then pg_ctlcluster "$version" "$cluster" start >&2; else sudo pg_ctlcluster "$version" "$cluster" start >&2; fi
fi
if [ "$(as_postgres psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" != 1 ]; then
  as_postgres psql -qc "CREATE ROLE \"$user\" LOGIN"
fi
if [ "$(as_postgres psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
  as_postgres createdb -O "$user" "$db"
fi
echo "postgresql:///$db?host=/var/run/postgresql"
