#!/usr/bin/env bash
# Load test, run by hand (not in CI): the axum server with the tower layer vs the same server
# verifying by hand inline, at 1 KiB and 64 KiB bodies, on loopback, with wrk.
# Prints requests/s and p99 latency per case, the ratio layer/inline, and peak RSS; then checks
# that the 413 path does not buffer more than the limit.
#
#   bash bench/load.sh            # DURATION=10s CONNECTIONS=32 by default
#
# SUITE=extractor compares the bare axum extractor (`Webhook<Event>`, no layer) with the same
# receiver written by hand (Bytes, HMAC-SHA1, constant-time compare, serde_json into the same
# typed `Team`), with a body that is a team, at SIZES (default 65536), ROUNDS times each
# (default 3, alternating which mode goes first), and prints the medians and the ratio. The
# team's name is padded with `a\/` (PAD=escaped, the default: an escape every third byte, as
# the layer suite's body) or with plain letters (PAD=plain).
#
#   SUITE=extractor DURATION=6s bash bench/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
PORT=${PORT:-18080}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }

SUITE=${SUITE:-layer}
cargo build -q --release --example bench_server -p appwrite-webhooks-tower
SERVER=${CARGO_TARGET_DIR:-target}/release/examples/bench_server
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

url="http://127.0.0.1/hooks/appwrite"   # the URL both servers verify against
peak_rss_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

if [ "$SUITE" = extractor ]; then
    SIZES=${SIZES:-65536}
    ROUNDS=${ROUNDS:-3}
    # A team of exactly `size` bytes (its name padded with escaped slashes, which serde has to
    # unescape into an owned String), signed here with Python's hmac, and a wrk script for it.
    make_team_script() {
        python3 - "$1" "$url" "${PAD:-escaped}" > "$WORK/team-$1.lua" <<'PY'
import base64, hashlib, hmac, json, sys
n, url, pad_kind = int(sys.argv[1]), sys.argv[2], sys.argv[3]
head = '{"$id":"t1","$createdAt":"2026-12-05T10:00:00.000+00:00","$updatedAt":"2026-12-05T10:00:00.000+00:00","name":"'
tail = '","total":1,"prefs":{}}'
pad = n - len(head) - len(tail)
body = head + ('a\\/' * (pad // 3 + 1))[:pad] + tail
if pad_kind == 'plain':
    body = head + 'abcdefghij' * (pad // 10) + 'a' * (pad % 10) + tail
if body[len(head):len(body) - len(tail)].endswith('\\'):
    body = head + ('a\\/' * (pad // 3 + 1))[:pad - 1] + 'a' + tail
assert len(body) == n and json.loads(body)["total"] == 1
sig = base64.b64encode(hmac.new(b"whsec_bench", (url + body).encode(), hashlib.sha1).digest()).decode()
print('wrk.method = "POST"')
print('wrk.body = ' + json.dumps(body))
for k, v in {"Content-Type": "application/json", "X-Appwrite-Webhook-Id": "wh_bench",
             "X-Appwrite-Webhook-Events": "teams.t1.create,teams.*.create,teams.t1,teams.*",
             "X-Appwrite-Webhook-Name": "", "X-Appwrite-Webhook-User-Id": "",
             "X-Appwrite-Webhook-Project-Id": "bench", "X-Appwrite-Webhook-Signature": sig}.items():
    print(f'wrk.headers["{k}"] = {json.dumps(v)}')
PY
    }
    printf '%-5s %-9s %-7s %12s %10s %12s\n' round mode body req/s p99 peak_rss_KiB
    for size in $SIZES; do
        make_team_script "$size"
        : > "$WORK/results-$size"
        for round in $(seq 1 "$ROUNDS"); do
            if [ $((round % 2)) -eq 1 ]; then order="hand extractor"; else order="extractor hand"; fi
            for mode in $order; do
                $SERVER "$mode" "$PORT" & pid=$!
                sleep 0.5
                wrk -t1 -c"$CONNECTIONS" -d2s -s "$WORK/team-$size.lua" "http://127.0.0.1:$PORT/hooks/appwrite" >/dev/null
                out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/team-$size.lua" "http://127.0.0.1:$PORT/hooks/appwrite")
                if echo "$out" | grep -q "Non-2xx"; then echo "$out"; echo "unexpected rejections" >&2; exit 1; fi
                r=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
                p99=$(echo "$out" | awk '$1=="99%" {print $2}')
                printf '%-5s %-9s %-7s %12s %10s %12s\n' "$round" "$mode" "$size" "$r" "$p99" "$(peak_rss_kib $pid)"
                echo "$mode $r" >> "$WORK/results-$size"
                kill $pid; wait $pid 2>/dev/null || true
            done
        done
        python3 - "$WORK/results-$size" "$size" "${PAD:-escaped}" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
med = {m: statistics.median(float(r) for k, r in rows if k == m) for m in ("hand", "extractor")}
print(f"median at {sys.argv[2]} bytes ({sys.argv[3]}): hand {med['hand']:.0f} req/s, extractor {med['extractor']:.0f} req/s, "
      f"extractor/hand {med['extractor'] / med['hand']:.3f}")
PY
    done
    exit 0
fi

cargo build -q --release -p appwrite-webhooks-cli
CLI=${CARGO_TARGET_DIR:-target}/release/appwrite-webhooks
make_script() { # size -> wrk Lua script posting a correctly signed delivery of that size
    local size=$1 body="$WORK/body-$1"
    python3 -c "import sys; n=int(sys.argv[1]); s='{\"note\":\"'+'a\\\\/'*((n-12)//3); s=s[:n-2]+'\"}'; sys.stdout.write(s)" "$size" > "$body"
    local sig; sig=$($CLI sign --key whsec_bench --url "$url" "$body")
    python3 - "$body" "$sig" > "$WORK/post-$size.lua" <<'PY'
import json, sys
body = open(sys.argv[1]).read()
print('wrk.method = "POST"')
print('wrk.body = ' + json.dumps(body))
for k, v in {"Content-Type": "application/json", "X-Appwrite-Webhook-Id": "wh_bench",
             "X-Appwrite-Webhook-Events": "teams.t1.create,teams.*.create,teams.t1,teams.*",
             "X-Appwrite-Webhook-Name": "", "X-Appwrite-Webhook-User-Id": "",
             "X-Appwrite-Webhook-Project-Id": "bench", "X-Appwrite-Webhook-Signature": sys.argv[2]}.items():
    print(f'wrk.headers["{k}"] = {json.dumps(v)}')
PY
}

printf '%-7s %-7s %12s %10s %12s\n' mode body req/s p99 peak_rss_KiB
for size in 1024 65536; do
    make_script "$size"
    declare -A rps
    for mode in inline layer; do
        $SERVER "$mode" "$PORT" & pid=$!
        sleep 0.5
        # A short warm-up, then the measured run.
        wrk -t1 -c"$CONNECTIONS" -d2s -s "$WORK/post-$size.lua" "http://127.0.0.1:$PORT/hooks/appwrite" >/dev/null
        out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/post-$size.lua" "http://127.0.0.1:$PORT/hooks/appwrite")
        if echo "$out" | grep -q "Non-2xx"; then echo "$out"; echo "unexpected rejections" >&2; exit 1; fi
        r=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        p99=$(echo "$out" | awk '$1=="99%" {print $2}')
        rps[$mode]=$r
        printf '%-7s %-7s %12s %10s %12s\n' "$mode" "$size" "$r" "$p99" "$(peak_rss_kib $pid)"
        kill $pid; wait $pid 2>/dev/null || true
    done
    python3 -c "print(f'ratio layer/inline at $size bytes: {${rps[layer]}/${rps[inline]}:.3f}')"
done

# The 413 path: a 64 MiB chunked upload, refused after the 5 MiB limit; peak RSS stays bounded.
$SERVER layer "$PORT" & pid=$!
sleep 0.5
before=$(peak_rss_kib $pid)
head -c $((64 * 1024 * 1024)) /dev/zero > "$WORK/big"
for _ in 1 2 3; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
        -H 'X-Appwrite-Webhook-Signature: 73HVjq6EFDqxMRzMDoRH96HHWAM=' --data-binary @"$WORK/big" \
        "http://127.0.0.1:$PORT/hooks/appwrite" || true)
    echo "chunked 64 MiB upload answered $code"
done
after=$(peak_rss_kib $pid)
echo "413 path: peak RSS ${before} KiB before, ${after} KiB after three 64 MiB uploads (limit 5 MiB)"
kill $pid
