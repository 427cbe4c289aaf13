#!/usr/bin/env bash
# End-to-end throughput on this machine: `canh up` (pinned to CPU 0) receiving N generated
# syslog lines over TCP from canh-loadgen (pinned to CPU 1), until every event is durable in
# the WAL and committed in the index; then rsyslog (imtcp -> file, pinned to CPU 0) on the same
# stream. Usage: N=2000000 CONNS=4 benches/e2e.sh   (needs a release build: make bench-e2e)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000000}
CONNS=${CONNS:-4}
CANH_CPUS=${CANH_CPUS:-0}
GEN_CPU=${GEN_CPU:-1}
CANH_ENV=${CANH_ENV:-CANH_BENCH=1}
BIN=./target/release
WORK=$(mktemp -d /tmp/canh-e2e.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
now() { date +%s.%N; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== canh up (cpus $CANH_CPUS) <- canh-loadgen (cpu $GEN_CPU): $N events over $CONNS connections"
P=$(port)
taskset -c "$CANH_CPUS" env $CANH_ENV $BIN/canh up --data "$WORK/data" --syslog "tcp://127.0.0.1:$P" --api 127.0.0.1:0 \
  > "$WORK/canh.out" 2> "$WORK/canh.err" &
CANH=$!
for _ in $(seq 100); do grep -q "listening api" "$WORK/canh.out" 2>/dev/null && break; sleep 0.1; done
t0=$(now)
taskset -c "$GEN_CPU" $BIN/canh-loadgen "127.0.0.1:$P" "$N" "$CONNS"
t_sent=$(now)
field() { python3 -c "import json,sys; print(json.load(open('$WORK/data/status.json'))['pipeline']['$1'])" 2>/dev/null || echo 0; }
until [ "$(field wal_events_durable)" -ge "$N" ]; do sleep 0.05; done
t_durable=$(now)
until [ "$(field indexed_events)" -ge "$N" ] && [ "$(field index_committed_pos)" -ge "$(field wal_durable_pos)" ]; do sleep 0.05; done
t_indexed=$(now)
found=$($BIN/canh search '*' --count --data "$WORK/data")
kill -TERM $CANH; wait $CANH || true
python3 - "$N" "$t0" "$t_sent" "$t_durable" "$t_indexed" "$found" <<'PY'
import sys
n, t0, ts, td, ti, found = int(sys.argv[1]), *map(float, sys.argv[2:6]), int(sys.argv[6])
print(f"canh: sent in {ts-t0:.2f}s; durable (WAL fsynced) after {td-t0:.2f}s = {n/(td-t0):,.0f} events/s; "
      f"indexed+committed after {ti-t0:.2f}s = {n/(ti-t0):,.0f} events/s; search finds {found} of {n}"
      + (" (nothing lost)" if found == n else " (LOSS!)"))
PY

if command -v rsyslogd >/dev/null; then
  echo "== rsyslog imtcp -> omfile (cpus $CANH_CPUS) <- canh-loadgen (cpu $GEN_CPU)"
  P=$(port)
  cat > "$WORK/rsyslog.conf" <<CONF
global(workDirectory="$WORK")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$P")
action(type="omfile" file="$WORK/rsyslog.out")
CONF
  taskset -c "$CANH_CPUS" rsyslogd -n -f "$WORK/rsyslog.conf" -i "$WORK/rsyslogd.pid" 2> "$WORK/rsyslog.err" &
  RS=$!
  sleep 1
  t0=$(now)
  taskset -c "$GEN_CPU" $BIN/canh-loadgen "127.0.0.1:$P" "$N" "$CONNS"
  t_sent=$(now)
  until [ -f "$WORK/rsyslog.out" ] && [ "$(wc -l < "$WORK/rsyslog.out")" -ge "$N" ]; do sleep 0.1; done
  t_done=$(now)
  lines=$(wc -l < "$WORK/rsyslog.out")
  kill -TERM $RS; wait $RS || true
  python3 - "$N" "$t0" "$t_sent" "$t_done" "$lines" <<'PY'
import sys
n, t0, ts, td, lines = int(sys.argv[1]), *map(float, sys.argv[2:5]), int(sys.argv[5])
print(f"rsyslog: sent in {ts-t0:.2f}s; all {lines} lines in its file after {td-t0:.2f}s = {n/(td-t0):,.0f} events/s")
PY
fi
