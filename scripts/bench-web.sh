#!/usr/bin/env bash
# Server-side time of every dashboard page on a large SQLite database.
#
# Starts the release `kefu serve` on a copy of DB, adds an admin, signs in
# through the login form (cookie + CSRF token, as a browser does), then
# requests each page N times one after the other on a kept-alive loopback
# connection, after WARMUP requests that are not counted. Prints the status
# and p50 / p95 / max in milliseconds per page. Times are taken by the
# client from the request being sent to the whole body being read, so they
# are the server's time plus a fraction of a millisecond.
#
# Usage: scripts/bench-web.sh [DB] [N]
#   DB  SQLite file, default bench-data/kpi-1000000x12.db (made by
#       `kefu bench-kpi`: a month, 2026-10, of 1,000,000 conversations by
#       500 agents). It is copied first, because `kefu serve` migrates it;
#       KEFU_BENCH_COPY=0 uses it in place. Pages without a period show the
#       current month, which has no data in that database: the
#       `?period=2026-10` variants are the ones that read a million
#       conversations. Text search needs the transcript index filled
#       (`Store::reindex_missing`); on an empty index it finds nothing.
#   N   timed requests per page (default 50).
# Environment:
#   KEFU       the binary (default target/release/kefu; build it with
#              `cargo build --release -p kefu-cli`)
#   PORT       default 18182
#   WARMUP     untimed requests per page first (default 3)
#   LIMIT_MS   p95 budget (default 200); pages over it are marked, and the
#              script exits 1
#   PAGES      the paths to measure, one per line (default: the list below)
set -euo pipefail
cd "$(dirname "$0")/.."

DB=${1:-bench-data/kpi-1000000x12.db}
N=${2:-50}
KEFU=${KEFU:-$PWD/target/release/kefu}
PORT=${PORT:-18182}
WARMUP=${WARMUP:-3}
LIMIT_MS=${LIMIT_MS:-200}
DEFAULT_PAGES='/
/?period=2026-10
/conversations
/conversations?agent=a-001
/conversations?q=不知道
/conversations?rule=forbidden
/conversations?rule=speech_rate
/conversations/b-00000042
/complaints
/agents
/agents?period=2026-10
/agents/a-001
/agents/a-001?period=2026-10
/review
/appeals
/packs
/admin'
PAGES=${PAGES:-$DEFAULT_PAGES}

[ -f "$DB" ] || { echo "no database at $DB (make one with: $KEFU bench-kpi --dir bench-data)" >&2; exit 2; }
[ -x "$KEFU" ] || { echo "no binary at $KEFU (cargo build --release -p kefu-cli)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }

WORK=$(mktemp -d)
SERVER=
cleanup() {
    if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ "${KEFU_BENCH_COPY:-1}" = 0 ]; then
    FILE=$DB
else
    FILE=$WORK/web.db
    echo "copying $DB ($(du -h "$DB" | cut -f1)) …" >&2
    cp "$DB" "$FILE"
    for ext in -wal -shm; do [ -f "$DB$ext" ] && cp "$DB$ext" "$FILE$ext"; done
fi
URL="sqlite://$FILE"
USER_ID=bench-web
PASSWORD=bench-web-pass-1

# Migrate first, so that a failure says why rather than "server did not start".
"$KEFU" migrate --database "$URL" >/dev/null
KEFU_PASSWORD=$PASSWORD "$KEFU" user add "$USER_ID" --role admin --database "$URL" >/dev/null 2>"$WORK/user.log" \
    || grep -qi "exist" "$WORK/user.log" \
    || { cat "$WORK/user.log" >&2; exit 1; }

"$KEFU" serve --database "$URL" --listen "127.0.0.1:$PORT" 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 150); do
    curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER" 2>/dev/null || { echo "kefu serve exited:" >&2; cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.2
done

echo "$(basename "$FILE"): $N requests per page after $WARMUP warm-up, p95 budget $LIMIT_MS ms" >&2
PAGES=$PAGES python3 - "$PORT" "$USER_ID" "$PASSWORD" "$N" "$WARMUP" "$LIMIT_MS" <<'PY'
import html, http.client, os, re, sys, time, unicodedata, urllib.parse

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
n, warmup, limit = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
pages = [p.strip() for p in os.environ["PAGES"].splitlines() if p.strip()]
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)


def request(method, path, headers=None, body=None):
    target = urllib.parse.quote(path, safe="/?=&%:+,;@")
    conn.request(method, target, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r.status, r.getheaders(), data


def cookies(headers):
    out = {}
    for k, v in headers:
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            out[name] = rest.split(";", 1)[0]
    return out


# Sign in like a browser: the form's CSRF token matches the login cookie.
status, headers, body = request("GET", "/login")
login = cookies(headers).get("kefu_login")
token = re.search(rb'name="_csrf" value="([^"]+)"', body)
if status != 200 or not login or not token:
    sys.exit(f"GET /login: {status}, no login cookie or CSRF token")
form = urllib.parse.urlencode({"_csrf": html.unescape(token.group(1).decode()),
                               "user": user, "password": password, "next": "/"})
status, headers, _ = request("POST", "/login", {
    "cookie": f"kefu_login={login}",
    "content-type": "application/x-www-form-urlencoded"}, form)
session = cookies(headers).get("kefu_session")
if status != 303 or not session:
    sys.exit(f"POST /login: {status}, no session cookie")
auth = {"cookie": f"kefu_session={session}"}


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(-(-q * len(xs) // 1)) - 1))]


rows, over = [], []
for path in pages:
    for _ in range(warmup):
        request("GET", path, auth)
    times, statuses, size = [], set(), 0
    for _ in range(n):
        t = time.perf_counter()
        status, _, body = request("GET", path, auth)
        times.append((time.perf_counter() - t) * 1000)
        statuses.add(status)
        size = len(body)
    status = "/".join(str(s) for s in sorted(statuses))
    p50, p95, top = pct(times, 0.5), pct(times, 0.95), max(times)
    flag = ""
    if statuses == {200} and p95 > limit:
        flag = "  over"
        over.append(path)
    elif statuses != {200}:
        flag = "  (not 200)"
    rows.append((path, status, p50, p95, top, size, flag))
    print(f"  {path}: {status} p95 {p95:.1f} ms", file=sys.stderr, flush=True)

def cells(s):
    """Terminal width: CJK characters take two cells."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


width = max(cells("page"), *(cells(r[0]) for r in rows))
print(f"{'page':<{width}}  status  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}  {'KiB':>6}")
for path, status, p50, p95, top, size, flag in rows:
    pad = " " * (width - cells(path))
    print(f"{path}{pad}  {status:<6}  {p50:8.1f}  {p95:8.1f}  {top:8.1f}  {size / 1024:6.0f}{flag}")
if over:
    print(f"over {limit:g} ms at p95: {', '.join(over)}")
    sys.exit(1)
PY
