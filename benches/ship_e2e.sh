#!/usr/bin/env bash
# Edge collector throughput on this machine. canh-loadgen sends N generated syslog lines over
# TCP to `canh collect` while no engine runs (spool write rate: events and MB/s until all N
# are fsynced in the spool); then `canh up --ship-listen` starts and the collector ships the
# spool over mutual TLS 1.3 on loopback (ship rate: until the engine has acknowledged all N,
# i.e. fsynced them in its WAL); finally the engine's index is checked to hold all N.
# Usage: N=1000000 benches/ship_e2e.sh   (release build first:
# cargo build --release -p canh-engine -p canh-benches)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
BIN=./target/release
WORK=$(mktemp -d /tmp/canh-ship-e2e.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
now() { date +%s.%N; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
js() { python3 -c "import json,sys; d=json.load(open('$1')); print(eval(sys.argv[1], {}, {'d': d}))" "$2" 2>/dev/null || echo 0; }

# a CA, the engine's certificate (127.0.0.1) and the collector's (bench-collector)
cd "$WORK"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -days 2 -subj /CN=bench-ca -keyout ca.key -out ca.pem 2>/dev/null
for n in engine bench-collector; do
  if [ $n = engine ]; then usage=serverAuth; san=IP:127.0.0.1; else usage=clientAuth; san=DNS:$n; fi
  openssl req $ec -subj "/CN=$n" -keyout $n.key -out $n.csr 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' $usage $san > $n.ext
  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile $n.ext -out $n.pem 2>/dev/null
  chmod 600 $n.key
done
cd - > /dev/null

SHIP=$(port); SYS=$(port)
$BIN/canh collect --syslog "tcp://127.0.0.1:$SYS" --netflow udp://127.0.0.1:0 --ship "127.0.0.1:$SHIP" \
  --tls-cert "$WORK/bench-collector.pem" --tls-key "$WORK/bench-collector.key" --ca "$WORK/ca.pem" \
  --name bench-collector --spool "$WORK/spool" > "$WORK/collect.out" 2> "$WORK/collect.err" &
for _ in $(seq 100); do grep -q "shipping to" "$WORK/collect.out" 2>/dev/null && break; sleep 0.1; done

echo "== spool: $N events into canh collect, no engine running"
t0=$(now)
$BIN/canh-loadgen "127.0.0.1:$SYS" "$N" 4
until [ "$(js "$WORK/spool/status.json" "d['ship']['spooled_events']")" -ge "$N" ]; do sleep 0.05; done
t1=$(now)
bytes=$(js "$WORK/spool/status.json" "d['ship']['spool_bytes']")

echo "== ship: canh up --ship-listen starts; the collector ships its spool"
$BIN/canh up --data "$WORK/data" --syslog udp://127.0.0.1:0 --netflow udp://127.0.0.1:0 --api 127.0.0.1:0 \
  --ship-listen "127.0.0.1:$SHIP" --tls-cert "$WORK/engine.pem" --tls-key "$WORK/engine.key" \
  --client-ca "$WORK/ca.pem" > "$WORK/up.out" 2> "$WORK/up.err" &
for _ in $(seq 100); do grep -q "listening api" "$WORK/up.out" 2>/dev/null && break; sleep 0.1; done
t2=$(now)
until [ "$(js "$WORK/spool/status.json" "d['ship']['acked_events']")" -ge "$N" ]; do sleep 0.05; done
t3=$(now)
field() { js "$WORK/data/status.json" "d['pipeline']['$1']"; }
until [ "$(field indexed_events)" -ge "$N" ] && [ "$(field index_committed_pos)" -ge "$(field wal_durable_pos)" ]; do sleep 0.1; done
t4=$(now)
found=$($BIN/canh search '*' --count --data "$WORK/data")
python3 - "$N" "$t0" "$t1" "$t2" "$t3" "$t4" "$bytes" "$found" <<'PY'
import sys
n, t0, t1, t2, t3, t4 = int(sys.argv[1]), *map(float, sys.argv[2:7])
b, found = int(sys.argv[7]), int(sys.argv[8])
print(f"spool write: {n/(t1-t0):,.0f} events/s, {b/1e6/(t1-t0):.1f} MB/s ({b/1e6:.0f} MB on disk)")
print(f"shipped and acknowledged (engine WAL fsynced): {n/(t3-t2):,.0f} events/s, {b/1e6/(t3-t2):.1f} MB/s of spool read")
print(f"indexed by the engine after {t4-t2:.1f}s = {n/(t4-t2):,.0f} events/s; search finds {found} of {n}"
      + (" (nothing lost, nothing twice)" if found == n else " (MISMATCH!)"))
PY
