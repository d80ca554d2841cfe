#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the tests and prints its URL (for STORYLINE_TEST_PG).
# Usage: export STORYLINE_TEST_PG=$(scripts/pg-test-cluster.sh DIR [PORT])  (default: the first free port from 55432)
# initdb refuses to run as root: as root, the cluster belongs to an unprivileged user
# (`storyline-test`, created if missing). Stop it with `pg_ctl -D DIR/data stop`.
# Tests run with fsync off (a throwaway cluster); PG_DURABLE=1 keeps PostgreSQL's defaults
# (for benchmarks, so that commits cost what they cost in production).
set -euo pipefail
dir=${1:?usage: pg-test-cluster.sh DIR [PORT]}
port=${2:-}
if [ -z "$port" ]; then
    # The first free port from 55432 (something answering there is in use).
    port=55432
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
fi
fsync="-c fsync=off"
if [ "${PG_DURABLE:-}" = 1 ]; then fsync=""; fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ]; then
    echo "pg-test-cluster: PostgreSQL is not installed (apt-get install postgresql)" >&2
    exit 1
fi
mkdir -p "$dir"
run=()
if [ "$(id -u)" -eq 0 ]; then
    id storyline-test >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin storyline-test
    chown storyline-test "$dir"
    run=(runuser -u storyline-test --)
fi
if [ ! -f "$dir/data/PG_VERSION" ]; then
    "${run[@]}" "$bin/initdb" -D "$dir/data" -A trust -U storyline --locale=C.UTF-8 -E UTF8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
fi
if ! "${run[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 $fsync" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
fi
echo "postgres://storyline@127.0.0.1:$port/postgres"
