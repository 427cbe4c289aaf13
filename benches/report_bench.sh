#!/usr/bin/env bash
# The monthly report at scale and evidence export vs pyarrow.
#
# 1. Generates a month (November 2026, +07:00) of N events (default 10,000,000) from 200 hosts,
#    with ALERTS (default 10,000) invalid-user probes from distinct addresses, one alert each.
# 2. Ingests it with `canh ingest` (the real pipeline: parse, rules, WAL, index, alerts).
# 3. Times `canh report --month 2026-11` (aim: <= 30 s for 10M events + 10k alerts).
# 4. Times `canh export --format parquet` of one day, and pyarrow writing the same rows (same
#    columns, zstd level 3, 64k-row groups) from memory; compares output MB/s.
#
# Usage: benches/report_bench.sh [WORKDIR]   (needs a release build and python3 with pyarrow)
set -euo pipefail
N=${N:-10000000}
ALERTS=${ALERTS:-10000}
WORK=${1:-/tmp/canh-report-bench}
BIN=${CANH:-$(dirname "$0")/../target/release/canh}
mkdir -p "$WORK"
LOG="$WORK/month-$N.log"
DATA="$WORK/data-$N"

if [ ! -s "$LOG" ]; then
  echo "generating $N events, $ALERTS alerting probes → $LOG"
  python3 - "$N" "$ALERTS" > "$LOG" <<'PY'
import sys
n, alerts = int(sys.argv[1]), int(sys.argv[2])
w = sys.stdout.write
step = 30 * 86400 / n
msgs = ["(root) CMD (run-parts /etc/cron.hourly)", "Started Daily apt download activities.",
        "Accepted publickey for deploy from 10.1.2.3 port 50022 ssh2",
        "Người dùng nguyenvana đăng nhập thành công vào cổng dịch vụ công"]
apps = ["CRON", "systemd", "sshd", "portal"]
every = max(1, n // max(1, alerts))
a = 0
for i in range(n):
    t = int(i * step)
    d, r = divmod(t, 86400)
    h, r = divmod(r, 3600)
    m, s = divmod(r, 60)
    host = f"host{i % 200:03d}"
    if a < alerts and i % every == 0:
        ip = f"198.{18 + a // 65536}.{(a // 256) % 256}.{a % 256}"
        w(f"<38>1 2026-11-{d+1:02d}T{h:02d}:{m:02d}:{s:02d}+07:00 {host} sshd 2301 - - Invalid user admin from {ip} port 44000\n")
        a += 1
    else:
        k = i % 4
        w(f"<30>1 2026-11-{d+1:02d}T{h:02d}:{m:02d}:{s:02d}+07:00 {host} {apps[k]} {1000 + k} - - {msgs[k]}\n")
PY
fi

if [ ! -d "$DATA/index" ]; then
  echo "ingesting into $DATA"
  /usr/bin/time -f "ingest: %e s, %M KiB max RSS" "$BIN" ingest "$LOG" --timezone +07:00 --data "$DATA"
fi
"$BIN" search '*' --count --data "$DATA" | sed 's/^/events indexed: /'
"$BIN" alerts list --status all --json --limit 100000 --data "$DATA" 2>/dev/null | wc -l | sed 's/^/alerts: /' || true

rm -rf "$WORK/report"
/usr/bin/time -f "report: %e s wall, %M KiB max RSS" \
  "$BIN" report --month 2026-11 --lang vi --timezone +07:00 --data "$DATA" --out "$WORK/report"
ls -l "$WORK/report"

rm -f "$WORK/day.parquet" "$WORK/day.jsonl"
/usr/bin/time -f "export parquet: %e s wall, %M KiB max RSS" \
  "$BIN" export --from 2026-11-10T00:00:00+07:00 --to 2026-11-13T00:00:00+07:00 --format parquet --out "$WORK/day.parquet" --data "$DATA" -q
"$BIN" export --from 2026-11-10T00:00:00+07:00 --to 2026-11-13T00:00:00+07:00 --format jsonl --out "$WORK/day.jsonl" --data "$DATA" -q
python3 - "$WORK/day.jsonl" "$WORK/day.parquet" <<'PY'
import json, sys, time, os
import pyarrow as pa, pyarrow.parquet as pq
from datetime import datetime
src, canh_out = sys.argv[1], sys.argv[2]
cols = [("dataset","event.dataset"),("host","host.hostname"),("source_ip","source.ip"),("source_port","source.port"),
        ("destination_ip","destination.ip"),("destination_port","destination.port"),("user","user.name"),
        ("action","event.action"),("rule_id","canh.rule.id"),("rule_name","canh.rule.name"),("message","message"),
        ("original","event.original")]
t0 = time.perf_counter()
rows = [(l.rstrip("\n"), json.loads(l)) for l in open(src, encoding="utf-8")]
def us(v):
    return int(datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() * 1e6) if v else None
def txt(v):
    if v is None: return None
    if isinstance(v, list): return ",".join(map(str, v))
    return v if isinstance(v, str) else json.dumps(v)
data = {"timestamp": pa.array([us(m.get("@timestamp")) for _, m in rows], pa.timestamp("us", tz="UTC")),
        "received": pa.array([us(m.get("event.created")) for _, m in rows], pa.timestamp("us", tz="UTC"))}
for name, f in cols:
    if name.endswith("_port"):
        data[name] = pa.array([m.get(f) for _, m in rows], pa.int64())
    else:
        data[name] = pa.array([txt(m.get(f)) for _, m in rows], pa.string())
data["event"] = pa.array([r for r, _ in rows], pa.string())
table = pa.table(data)
out = canh_out + ".pyarrow"
t = time.perf_counter()
pq.write_table(table, out, compression="zstd", compression_level=3, row_group_size=65536)
dt = time.perf_counter() - t
size = os.path.getsize(out)
total = time.perf_counter() - t0
print(f"pyarrow {pa.__version__} write_table of {len(rows)} rows (from memory): {dt:.2f} s, {size/1e6:.1f} MB, {size/1e6/dt:.1f} MB/s, {len(rows)/dt:.0f} rows/s")
print(f"pyarrow end to end (JSON lines -> columns -> Parquet): {total:.2f} s, {size/1e6/total:.1f} MB/s, {len(rows)/total:.0f} rows/s")
print(f"canh parquet: {os.path.getsize(canh_out)/1e6:.1f} MB (see the export line above for its time)")
PY
