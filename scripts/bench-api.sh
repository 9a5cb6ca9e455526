#!/usr/bin/env bash
# Load benchmark of complaint reads: a release `kefu serve` on SQLite, N
# complaints, and wrk on loopback reading them by id with a bearer token.
# Usage: scripts/bench-api.sh [COMPLAINTS] [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-2000}; SECONDS_=${2:-15}; CONNS=${3:-32}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 2; }
cargo build -q --release -p kefu-cli
KEFU=$PWD/target/release/kefu
DIR=$(mktemp -d); DB="sqlite://$DIR/bench.db"; PORT=${PORT:-18181}
KEFU_PASSWORD=bench-admin-1 "$KEFU" user add admin --role admin --database "$DB" >/dev/null
"$KEFU" serve --database "$DB" --listen 127.0.0.1:$PORT 2>"$DIR/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 50); do curl -sf localhost:$PORT/healthz >/dev/null && break; sleep 0.2; done
TOKEN=$(curl -sf -XPOST localhost:$PORT/api/v1/auth/login -H 'content-type: application/json' \
  -d '{"user":"admin","password":"bench-admin-1"}' | python3 -c 'import sys,json;print(json.load(sys.stdin)["token"])')
python3 - "$PORT" "$TOKEN" "$N" "$DIR/ids.txt" <<'PY'
import json, sys, urllib.request
port, token, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ids = []
for i in range(n):
    body = json.dumps({"id": "", "customer": {"name": "客户%d" % i, "phone": "138%08d" % i},
                       "channel": "phone", "category": "计费", "description": "第%d号投诉：话费多扣" % i}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/complaints", data=body, method="POST",
                                 headers={"authorization": "Bearer " + token, "content-type": "application/json"})
    ids.append(json.load(urllib.request.urlopen(req))["complaint"]["id"])
open(out, "w").write("\n".join(ids))
PY
cat > "$DIR/read.lua" <<LUA
local ids = {}
for line in io.lines("$DIR/ids.txt") do ids[#ids + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/api/v1/complaints/" .. ids[(i % #ids) + 1], {["authorization"] = "Bearer $TOKEN"})
end
LUA
echo "complaint reads: $N complaints, ${SECONDS_}s, $CONNS connections"
wrk -t2 -c"$CONNS" -d"${SECONDS_}s" --latency -s "$DIR/read.lua" "http://127.0.0.1:$PORT"
