#!/usr/bin/env bash
# NetFlow over UDP → decode → WAL → index, lossless rate: canh up vs nfcapd receiving the same
# paced NetFlow v5 stream from canh-flowgen. For each RATE (flows/s) N flows are sent; a rate
# is lossless for a receiver when it keeps all N. canh is counted by `canh search
# 'event.dataset:netflow' --count` once its index has committed everything; nfcapd by the
# records nfdump reads back from its files. Both ask for an 8 MiB socket buffer (canh always
# does; nfcapd with -B); the kernel caps it at net.core.rmem_max.
# Usage: N=300000 RATES="50000 100000 200000" benches/netflow_e2e.sh   (release build first:
# cargo build --release -p canh-engine -p canh-benches)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-300000}
RATES=${RATES:-"25000 50000 100000 200000 400000"}
RECV_CPUS=${RECV_CPUS:-0}
GEN_CPU=${GEN_CPU:-1}
BIN=./target/release
WORK=$(mktemp -d /tmp/canh-nf-e2e.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
field() { python3 -c "import json; print(json.load(open('$1/status.json'))['pipeline']['$2'])" 2>/dev/null || echo 0; }

for RATE in $RATES; do
  # canh
  P=$(port); D="$WORK/canh-$RATE"
  taskset -c "$RECV_CPUS" $BIN/canh up --data "$D" --netflow "udp://127.0.0.1:$P" \
    --syslog "udp://127.0.0.1:0" --api 127.0.0.1:0 > "$WORK/canh.out" 2> "$WORK/canh.err" &
  CANH=$!
  for _ in $(seq 100); do grep -q "listening api" "$WORK/canh.out" 2>/dev/null && break; sleep 0.1; done
  sent=$(taskset -c "$GEN_CPU" $BIN/canh-flowgen "127.0.0.1:$P" "$N" "$RATE")
  # settle: the durable datagram count stops moving and the index has committed all of it
  # (datagrams are decoded and indexed behind the WAL, so this can take longer than sending)
  last=-1
  t0=$(date +%s.%N)
  while :; do
    sleep 1
    now=$(field "$D" wal_datagrams)
    [ "$now" = "$last" ] && [ "$(field "$D" index_committed_pos)" -ge "$(field "$D" wal_durable_pos)" ] && break
    last=$now
  done
  settled=$(python3 -c "print(round($(date +%s.%N) - $t0, 1))")
  canh_n=$($BIN/canh search 'event.dataset:netflow' --count --data "$D")
  spilled=$(field "$D" index_spilled)
  kill -TERM $CANH; wait $CANH || true

  # nfcapd
  P=$(port); O="$WORK/nfcapd-$RATE"; mkdir -p "$O"
  taskset -c "$RECV_CPUS" nfcapd -w "$O" -p "$P" -b 127.0.0.1 -t 3600 -B 8388608 > /dev/null 2>&1 &
  NF=$!
  sleep 1
  taskset -c "$GEN_CPU" $BIN/canh-flowgen "127.0.0.1:$P" "$N" "$RATE" > /dev/null
  sleep 2
  kill -TERM $NF; wait $NF || true
  nf_n=$(nfdump -R "$O" -q -o csv 2>/dev/null | grep -c '^[0-9]' || true)
  echo "rate $RATE flows/s ($sent): canh kept $canh_n of $N (indexed ${settled}s after sending ended, $spilled WAL records read back), nfcapd kept $nf_n of $N"
done
