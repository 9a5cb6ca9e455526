#!/usr/bin/env bash
# Load benchmark of the complaint API: a release `kefu serve` on SQLite with
# N complaints, and wrk on loopback with a bearer token. Prints, for each
# phase, requests/s and the latency percentiles (p50/p90/p99):
#   1. read by id;
#   2. list, first page of 25 (`total` capped and marked estimated);
#   3. list, a deep page reached by keyset `cursor`, and a filtered list;
#   4. create (POST) alone;
#   5. create and list at the same time (writers under readers);
#   6. with KEFU_BENCH_IMPORT=conversations.jsonl: create and list while
#      `kefu import` writes that file into the same database (its slices
#      take KEFU_BENCH_SLICE_MS, default 50: the import's default), and how
#      many conversations the import stored meanwhile.
# The complaints are seeded straight into the file (copies of one created
# through the API, spread over the past year), so 1M takes a minute, not an
# hour; the POSTs of phases 4-5 go through the API.
# Usage: scripts/bench-api.sh [COMPLAINTS] [SECONDS] [CONNECTIONS]
# KEFU_BENCH_PG=postgres://USER@HOST:PORT runs it on PostgreSQL instead: a
# fresh database kefu_bench_PID there (dropped at the end), seeded with
# psql's \copy.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}; SECONDS_=${2:-15}; CONNS=${3:-32}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 2; }
# KEFU=path/to/kefu measures that binary (another build, to compare);
# otherwise this checkout's release build, built first.
if [ -z "${KEFU:-}" ]; then
  cargo build -q --release -p kefu-cli
  KEFU=$PWD/target/release/kefu
fi
DIR=$(mktemp -d); FILE="$DIR/bench.db"; DB="sqlite://$FILE"; PORT=${PORT:-18181}
PG=${KEFU_BENCH_PG:-}
if [ -n "$PG" ]; then
  PGDB="kefu_bench_$$"
  psql -q "$PG/postgres" -c "CREATE DATABASE $PGDB"
  DB="$PG/$PGDB"
fi
count() { if [ -n "$PG" ]; then psql -At "$DB" -c "$1"; else sqlite3 "$FILE" "$1"; fi; }
KEFU_PASSWORD=bench-admin-1 "$KEFU" user add admin --role admin --database "$DB" >/dev/null
"$KEFU" serve --database "$DB" --listen 127.0.0.1:$PORT 2>"$DIR/serve.log" &
SERVER=$!
cleanup() {
  kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true; rm -rf "$DIR"
  if [ -n "$PG" ]; then psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)"; fi
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf localhost:$PORT/healthz >/dev/null && break; sleep 0.2; done
TOKEN=$(curl -sf -XPOST localhost:$PORT/api/v1/auth/login -H 'content-type: application/json' \
  -d '{"user":"admin","password":"bench-admin-1"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')
BODY='{"id":"","customer":{"name":"客户","phone":"13800000000"},"channel":"phone","category":"计费","description":"话费多扣"}'
curl -sf -XPOST localhost:$PORT/api/v1/complaints -H "authorization: Bearer $TOKEN" \
  -H 'content-type: application/json' -d "$BODY" >/dev/null
# Seed: copies of the complaint just created, ids SEED-…, opened over the
# past year, in the four open states and each priority, a third assigned.
python3 - "$FILE" "$N" "$DIR/ids.txt" "$DB" <<'PY'
import json, random, sqlite3, subprocess, sys, time
path, n, out, url = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
pg = url.startswith("postgres")
if pg:
    # The template row as JSON; copies go in through psql's \copy (CSV).
    tmpl = json.loads(subprocess.check_output(
        ["psql", "-At", url, "-c", "SELECT row_to_json(c) FROM complaints c LIMIT 1"]))
    cols = list(tmpl)
    csv_path = out + ".csv"
    csv_file = open(csv_path, "w", encoding="utf-8")
    def cell(v):
        if v is None:
            return ""
        if isinstance(v, bool):
            return "t" if v else "f"
        if isinstance(v, (int, float)):
            return str(v)
        return '"' + str(v).replace('"', '""') + '"'
else:
    db = sqlite3.connect(path, timeout=60)
    db.execute("PRAGMA busy_timeout = 60000")
    cur = db.execute("SELECT * FROM complaints LIMIT 1")
    cols = [d[0] for d in cur.description]
    tmpl = dict(zip(cols, cur.fetchone()))
doc = json.loads(tmpl["doc"])
states = ["accepted", "investigating", "handling", "awaiting_follow_up", "accepted"]
prios = ["low", "normal", "high", "urgent", "normal"]
now = int(time.time() * 1000); year = 365 * 86400 * 1000
rnd = random.Random(16)
sql = "INSERT INTO complaints (%s) VALUES (%s)" % (",".join(cols), ",".join("?" * len(cols)))
ids = []
batch = []
for i in range(n):
    row = dict(tmpl)
    cid = "SEED-%08d" % i
    at = now - rnd.randrange(year)
    row.update(id=cid, opened_at=at, updated_at=at, state=states[i % 5], priority=prios[i % 5],
               assignee_kind=("agent" if i % 3 == 0 else None), assignee_id=("a%d" % (i % 50) if i % 3 == 0 else None))
    d = dict(doc)
    d["id"] = cid
    d["state"] = row["state"]; d["priority"] = row["priority"]
    d["assignee"] = {"kind": "agent", "id": row["assignee_id"]} if row["assignee_id"] else None
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at / 1000)) + ".%03dZ" % (at % 1000)
    d["opened_at"] = stamp; d["updated_at"] = stamp
    row["doc"] = json.dumps(d, ensure_ascii=False)
    if i % 97 == 0:
        ids.append(cid)
    if pg:
        csv_file.write(",".join(cell(row[c]) for c in cols) + "\n")
        continue
    batch.append([row[c] for c in cols])
    if len(batch) == 10000:
        db.executemany(sql, batch); db.commit(); batch = []
if pg:
    csv_file.close()
    subprocess.check_call(["psql", "-q", url, "-c",
        "\\copy complaints (%s) FROM '%s' WITH (FORMAT csv)" % (",".join(cols), csv_path)])
    # VACUUM too: a freshly copied table has no visibility map, so counts
    # could not be answered from the index alone, as they are once
    # autovacuum has been by on a real database.
    subprocess.check_call(["psql", "-q", url, "-c", "VACUUM ANALYZE"])
else:
    if batch:
        db.executemany(sql, batch); db.commit()
    db.execute("ANALYZE")
    db.commit()
open(out, "w").write("\n".join(ids))
PY
echo "complaints: $(count 'SELECT COUNT(*) FROM complaints') on ${DB%%:*}; ${SECONDS_}s per phase, $CONNS connections; $(nproc) CPUs"
AUTH="authorization: Bearer $TOKEN"
api() { curl -sf "localhost:$PORT/api/v1/complaints$1" -H "$AUTH"; }
# A cursor deep in the list (after the first 25,000 or so), reached by
# following `next` from an offset page.
DEEP=$(api "?per_page=25&page=1000" | python3 -c 'import sys,json;print(json.load(sys.stdin)["next"] or "")')
api "?per_page=25" | python3 -c 'import sys,json;d=json.load(sys.stdin);print("first page: total", d["total"], "estimated", d["total_estimated"])'

summary() { # wrk output -> one line
  awk -v name="$1" '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +90%/ {p90=$2} /^ +99%/ {p99=$2}
    /Non-2xx/ {bad=$NF} END {printf "%-34s %9s req/s  p50 %8s  p90 %8s  p99 %8s  non-2xx %s\n", name, rps, p50, p90, p99, (bad==""?0:bad)}'
}
run() { # name conns lua url
  wrk -t2 -c"$2" -d"${SECONDS_}s" --latency -s "$3" "http://127.0.0.1:$PORT$4" | tee -a "$DIR/wrk.log" | summary "$1"
}

cat > "$DIR/read.lua" <<LUA
local ids = {}
for line in io.lines("$DIR/ids.txt") do ids[#ids + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/api/v1/complaints/" .. ids[(i % #ids) + 1], {["authorization"] = "Bearer $TOKEN"})
end
LUA
cat > "$DIR/get.lua" <<LUA
wrk.headers["authorization"] = "Bearer $TOKEN"
LUA
cat > "$DIR/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["authorization"] = "Bearer $TOKEN"
wrk.headers["content-type"] = "application/json"
LUA

run "GET /complaints/{id}" "$CONNS" "$DIR/read.lua" /
run "list first page (25)" "$CONNS" "$DIR/get.lua" "/api/v1/complaints?per_page=25"
run "list deep page by cursor (25)" "$CONNS" "$DIR/get.lua" "/api/v1/complaints?per_page=25&cursor=$DEEP"
run "list state=handling (25)" "$CONNS" "$DIR/get.lua" "/api/v1/complaints?per_page=25&state=handling"
run "list priority=urgent (25)" "$CONNS" "$DIR/get.lua" "/api/v1/complaints?per_page=25&priority=urgent"
run "POST /complaints" 16 "$DIR/post.lua" /api/v1/complaints
echo "-- POST and list at the same time:"
run "  POST /complaints (with lists)" 16 "$DIR/post.lua" /api/v1/complaints &
W=$!
run "  list first page (with POSTs)" 16 "$DIR/get.lua" "/api/v1/complaints?per_page=25"
wait $W
if [ -n "${KEFU_BENCH_IMPORT:-}" ]; then
  SLICE=${KEFU_BENCH_SLICE_MS:-50}
  echo "-- POST and list while \`kefu import --slice-ms $SLICE\` runs:"
  BEFORE=$(count 'SELECT COUNT(*) FROM conversations')
  "$KEFU" import "$KEFU_BENCH_IMPORT" --database "$DB" --slice-ms "$SLICE" >"$DIR/import.log" 2>&1 &
  IMPORT=$!
  sleep 2 # past the start-up: pack, first slices
  START=$(count 'SELECT COUNT(*) FROM conversations')
  run "  POST /complaints (during import)" 16 "$DIR/post.lua" /api/v1/complaints &
  W=$!
  run "  list first page (during import)" 16 "$DIR/get.lua" "/api/v1/complaints?per_page=25"
  wait $W
  END=$(count 'SELECT COUNT(*) FROM conversations')
  kill $IMPORT 2>/dev/null || true; wait $IMPORT 2>/dev/null || true
  echo "  import stored $((END - START)) conversations in the ${SECONDS_}s window ($(( (END - START) / SECONDS_ ))/s; $((START - BEFORE)) before it)"
fi
if grep -q " 503 \| 500 " "$DIR/serve.log"; then echo "server log has errors:"; tail -5 "$DIR/serve.log"; fi
