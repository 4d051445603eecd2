#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests: initdb into a temporary folder, start it on a free 127.0.0.1 port
# (its unix socket in the same folder), create the database `simtap`, print what to connect to; `stop` removes it.
#
# Source: the team's shared recipe `recipes/throwaway-postgres.sh` (a cluster as root without systemd), copied here
# so the repository needs nothing outside itself: as root initdb refuses to run, so the cluster runs as the
# `postgres` user (`runuser -u postgres --`) in a folder it owns; as anyone else it runs as that user. fsync is off:
# the cluster holds test data only and dies with the test run.
#
# Usage:
#   scripts/throwaway-postgres.sh start [--watch-pid PID]   prints PGTMP=…, PGBIN=…, DATABASE_URL=postgres://…
#       --watch-pid: a background watcher stops the cluster and removes its folder once PID has exited
#   scripts/throwaway-postgres.sh stop PGTMP                stops the cluster started in PGTMP and removes PGTMP
# Needs the PostgreSQL server binaries (`/usr/lib/postgresql/*/bin`: `sudo apt-get install postgresql`).
set -euo pipefail

pgbin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    echo "throwaway-postgres: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (sudo apt-get install postgresql)" >&2
    exit 3
  fi
  echo "$dir"
}

# as_pg CMD…: runs CMD as the cluster's owner (postgres when we are root, else ourselves).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_cluster() {
  local tmp=$1 bin
  [ -d "$tmp" ] || return 0
  bin=$(pgbin)
  if [ -f "$tmp/data/postmaster.pid" ]; then
    as_pg "$bin/pg_ctl" -D "$tmp/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

start_cluster() {
  local watch_pid=""
  if [ "${1:-}" = "--watch-pid" ]; then watch_pid=${2:?--watch-pid needs a pid}; fi
  local bin tmp port t0 t1 t2
  bin=$(pgbin)
  tmp=$(mktemp -d -t simtap-pg.XXXXXX)
  chmod 755 "$tmp"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$tmp"; fi
  t0=$(date +%s%N)
  if ! as_pg "$bin/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$tmp/initdb.log" 2>&1; then
    cat "$tmp/initdb.log" >&2
    rm -rf "$tmp"
    exit 1
  fi
  t1=$(date +%s%N)
  # A free port can be taken between the probe and the server's bind (parallel test files): try a few.
  local started=""
  for _ in 1 2 3 4 5; do
    port=$(free_port)
    if as_pg "$bin/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $tmp -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null 2>&1; then
      started=1
      break
    fi
  done
  if [ -z "$started" ]; then
    cat "$tmp/server.log" >&2 || true
    rm -rf "$tmp"
    exit 1
  fi
  t2=$(date +%s%N)
  as_pg "$bin/createdb" -h "$tmp" -p "$port" -U postgres simtap
  echo "throwaway-postgres: initdb $(((t1 - t0) / 1000000)) ms, start $(((t2 - t1) / 1000000)) ms" >&2
  if [ -n "$watch_pid" ]; then
    # Detached, with no inherited output, so whoever runs this script is not kept waiting on its pipes.
    setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; bash "$2" stop "$3"' watcher "$watch_pid" \
      "$(readlink -f "$0")" "$tmp" \
      </dev/null >/dev/null 2>&1 &
  fi
  echo "PGTMP=$tmp"
  echo "PGBIN=$bin"
  echo "DATABASE_URL=postgres://postgres@127.0.0.1:$port/simtap"
}

case "${1:-}" in
  start)
    shift
    start_cluster "$@"
    ;;
  stop) stop_cluster "${2:?stop needs the PGTMP folder}" ;;
  *)
    echo "usage: $0 start [--watch-pid PID] | stop PGTMP" >&2
    exit 2
    ;;
esac
