#!/usr/bin/env bash
# Dashboard latency while a large import runs (issue 13, item 3).
#
# Generates N conversations with `kefu bench --generate-only` (a month,
# 2026-10, by 500 agents), starts the release `kefu serve` on an empty
# SQLite file, then runs `kefu import` of those conversations in the
# background and, for as long as the import runs, requests the dashboard
# pages below one after the other with curl (signed in as an admin; the
# reports through the API with a bearer token, the dashboard has no
# separate reports page). Prints p50 / p95 / max in milliseconds per page,
# the number of requests and of 5xx answers, and the import's time.
# Everything lives in a temporary directory under /tmp that is deleted at
# the end (the JSONL and the database take a few hundred MB at 200k).
#
# Not part of the test suite: it takes minutes and measures this machine.
#
# Usage: scripts/bench-load.sh [N]
#   N  conversations (default 200000)
# Environment:
#   KEFU      the binary (default: $CARGO_TARGET_DIR/release/kefu, else
#             target/release/kefu; build with `cargo build --release -p kefu-cli`)
#   TURNS     turns per conversation (default 8: keeps the file small)
#   JOBS      import workers (default 1, leaving a core to the server)
#   PORT      default 18183
#   LIMIT_MS  p95 budget (default 500); exits 1 when a page is over it or
#             any request answered 5xx
#   TMPDIR    where the temporary directory goes (default /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-200000}
TURNS=${TURNS:-8}
JOBS=${JOBS:-1}
PORT=${PORT:-18183}
LIMIT_MS=${LIMIT_MS:-500}
KEFU=${KEFU:-${CARGO_TARGET_DIR:-$PWD/target}/release/kefu}
PERIOD=2026-10
PAGES="/?period=$PERIOD
/conversations?period=$PERIOD
/agents?period=$PERIOD
/api/v1/reports/centre?period=$PERIOD
/api/v1/reports/agents?period=$PERIOD"

[ -x "$KEFU" ] || { echo "no binary at $KEFU (cargo build --release -p kefu-cli)" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kefu-bench-load.XXXXXX")
SERVER=
IMPORT=
cleanup() {
    for p in $IMPORT $SERVER; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "generating $N conversations × $TURNS turns in $WORK …" >&2
"$KEFU" bench --generate-only --mix mixed --conversations "$N" --turns "$TURNS" --dir "$WORK/data" >&2
DATA=$(ls "$WORK"/data/conversations-*.jsonl)
echo "data: $(du -h "$DATA" | cut -f1); free on $(df -h "$WORK" | awk 'NR==2 {print $6 ": " $4}')" >&2

URL="sqlite://$WORK/load.db"
USER_ID=bench-load
PASSWORD=bench-load-pass-1
"$KEFU" migrate --database "$URL" >/dev/null
KEFU_PASSWORD=$PASSWORD "$KEFU" user add "$USER_ID" --role admin --database "$URL" >/dev/null
"$KEFU" serve --database "$URL" --listen "127.0.0.1:$PORT" 2>"$WORK/serve.log" &
SERVER=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 150); do
    curl -sf "$BASE/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER" 2>/dev/null || { echo "kefu serve exited:" >&2; cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.2
done

# Sign in like a browser (login cookie + CSRF token), and for the API.
JAR=$WORK/cookies
TOKEN=$(curl -sf -c "$JAR" "$BASE/login" | sed -n 's/.*name="_csrf" value="\([^"]*\)".*/\1/p' | head -1)
[ -n "$TOKEN" ] || { echo "no CSRF token on /login" >&2; exit 1; }
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" -c "$JAR" \
    --data-urlencode "_csrf=$TOKEN" --data-urlencode "user=$USER_ID" \
    --data-urlencode "password=$PASSWORD" --data-urlencode "next=/" "$BASE/login")
[ "$STATUS" = 303 ] || { echo "dashboard login: $STATUS" >&2; exit 1; }
BEARER=$(curl -sf -H 'content-type: application/json' \
    -d "{\"user\":\"$USER_ID\",\"password\":\"$PASSWORD\"}" "$BASE/api/v1/auth/login" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

echo "importing with $JOBS worker(s) while requesting: $(echo "$PAGES" | tr '\n' ' ')" >&2
START=$(date +%s.%N)
"$KEFU" import "$DATA" --database "$URL" --jobs "$JOBS" >"$WORK/import.log" 2>&1 &
IMPORT=$!
SAMPLES=$WORK/samples
: >"$SAMPLES"
while kill -0 "$IMPORT" 2>/dev/null; do
    while IFS= read -r path; do
        case $path in
            /api/*) auth=(-H "authorization: Bearer $BEARER") ;;
            *) auth=(-b "$JAR") ;;
        esac
        # Status and total time; a timeout or refused connection counts as 000.
        out=$(curl -s -o /dev/null -m 120 "${auth[@]}" -w '%{http_code} %{time_total}' "$BASE$path" || true)
        echo "$path $out" >>"$SAMPLES"
    done <<<"$PAGES"
done
IMPORT_RC=0
wait "$IMPORT" || IMPORT_RC=$?
IMPORT=
END=$(date +%s.%N)
tail -3 "$WORK/import.log" >&2
[ "$IMPORT_RC" = 0 ] || { echo "kefu import failed ($IMPORT_RC)" >&2; exit 1; }
echo "import of $N conversations took $(python3 -c "print(f'{$END - $START:.0f}')") s" >&2

PAGES=$PAGES python3 - "$SAMPLES" "$LIMIT_MS" <<'PY'
import os, sys

samples, limit = sys.argv[1], float(sys.argv[2])
pages = [p for p in os.environ["PAGES"].splitlines() if p]
by_page = {p: [] for p in pages}
for line in open(samples, encoding="utf-8"):
    path, status, secs = line.split()
    by_page[path].append((int(status), float(secs) * 1000))


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(-(-q * len(xs) // 1)) - 1))]


failed = False
width = max(len(p) for p in pages)
print(f"{'page':<{width}}  {'n':>4}  {'5xx':>4}  {'other':>5}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}")
for p in pages:
    rows = by_page[p]
    if not rows:
        print(f"{p:<{width}}  no samples")
        failed = True
        continue
    times = [t for _, t in rows]
    e5 = sum(1 for s, _ in rows if s >= 500)
    other = sum(1 for s, _ in rows if s != 200 and s < 500)
    p95 = pct(times, 0.95)
    flag = "  over" if p95 > limit else ""
    failed |= bool(flag) or e5 > 0
    print(f"{p:<{width}}  {len(rows):4d}  {e5:4d}  {other:5d}  {pct(times, 0.5):8.1f}  {p95:8.1f}  {max(times):8.1f}{flag}")
sys.exit(1 if failed else 0)
PY
