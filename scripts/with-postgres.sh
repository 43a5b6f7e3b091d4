#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster (with pgvector) on 127.0.0.1, a random
# port and a temporary directory, with DATABASE_URL pointing at it; stops and deletes the
# cluster afterwards. Needs PostgreSQL's server binaries and pgvector installed
# (.ci/install-postgres does both on Debian).
#   scripts/with-postgres.sh npm run test:int
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: $0 command [args...]   (e.g. $0 npm run test:int)" >&2
  exit 2
fi

bindir="${PG_BINDIR:-}"
if [ -z "$bindir" ]; then
  for candidate in /usr/lib/postgresql/*/bin; do
    [ -x "$candidate/initdb" ] && bindir="$candidate"
  done
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "with-postgres: no PostgreSQL server binaries found (initdb). Install them" \
    "(bash .ci/install-postgres on Debian) or set PG_BINDIR." >&2
  exit 1
fi

dir="$(mktemp -d)"
port="$(node -e 'const s = require("node:net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')"
# initdb refuses to run as root: run the cluster as the postgres user then.
as=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$dir"
  as=(runuser -u postgres --)
fi

stop() {
  "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${as[@]}" "$bindir/initdb" -D "$dir/data" -U mem0 --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
  { cat "$dir/initdb.log"; exit 1; }
# A test cluster: durability off (it is deleted afterwards), enough connections for the
# multi-process tests.
if ! "${as[@]}" "$bindir/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" start -o \
  "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  >/dev/null; then
  cat "$dir/server.log"
  exit 1
fi
"${as[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U mem0 mem0
export DATABASE_URL="postgres://mem0@127.0.0.1:$port/mem0"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
"$@"
