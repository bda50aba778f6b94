#!/bin/bash
# Interleaved runs of `rampart bench queue` against a fresh SQLite server,
# monitoring at its default vs [monitoring] enabled = false.
# Usage: bench_queue.sh ROUNDS JOBS
set -u
BIN=${RAMPART_BIN:-./target/release/rampart}
WORK=${TMPDIR:-/tmp}
ROUNDS=${1:-3}; JOBS=${2:-50000}
PORT=7651
for round in $(seq 1 "$ROUNDS"); do
  # ABBA: each mode goes first in every other round, so neither gains from its place.
  if [ $((round % 2)) -eq 1 ]; then order="on off"; else order="off on"; fi
  for mode in $order; do
    # The previous run's database is written back before this one starts.
    sync; sleep 1
    dir=$(mktemp -d "$WORK/rampart-bq-XXXX")
    if [ "$mode" = on ]; then enabled=true; else enabled=false; fi
    RAMPART_MONITORING__ENABLED=$enabled "$BIN" serve --data-dir "$dir/data" --listen 127.0.0.1:$PORT 2>"$dir/server.log" &
    pid=$!
    for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.1; done
    key=$(cat "$dir/data/admin.key")
    out=$("$BIN" --url http://127.0.0.1:$PORT --api-key "$key" bench queue --jobs "$JOBS" --concurrency 50 --batch 1000 2>/dev/null)
    # The server's CPU time (user + system) over the whole run, in seconds:
    # steadier than wall time on a machine shared with other work.
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' /proc/$pid/stat)
    echo "$(date -u +%H:%M:%S) round=$round monitoring=$mode server_cpu_s=$cpu $out"
    kill "$pid"; wait "$pid" 2>/dev/null
    rm -rf "$dir"
  done
done
