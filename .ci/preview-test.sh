#!/usr/bin/env bash
# The demo's dashboard preview in a real browser (`make preview-test`): starts
# `gti-relay demo` on free ports, loads its page in headless Chromium with a
# lookup, and fails on a JavaScript error, a tile without data or a lookup
# that did not draw; writes a screenshot to target/preview.png. Needs Debian's
# `chromium` (or CHROMIUM=…); not part of `make test`. Every wait is bounded,
# and the demo is stopped whatever happens.
set -euo pipefail

BIN=${BIN:-target/debug/gti-relay}
CHROMIUM=${CHROMIUM:-chromium}
LOOKUP=${LOOKUP:-google.com}
OUT=target
LOG=$OUT/preview-demo.log
DOM=$OUT/preview-dom.html
SHOT=$OUT/preview.png
TILES="gti-detection-summary gti-detections-by-severity gti-detections-per-day gti-top-rules"

fail() { echo "preview-test: FAIL: $*" >&2; exit 1; }
command -v "$CHROMIUM" >/dev/null || fail "no $CHROMIUM (apt-get install chromium)"
mkdir -p "$OUT"
rm -f "$SHOT" "$DOM"

HOST=127.0.0.1 PORT=0 "$BIN" demo >"$LOG" 2>&1 &
DEMO=$!
cleanup() { kill "$DEMO" 2>/dev/null || true; wait "$DEMO" 2>/dev/null || true; }
trap cleanup EXIT

# The demo prints `Serving until Ctrl-C` once its sample lookup is done.
for _ in $(seq 1 120); do
    grep -q '^Serving until Ctrl-C' "$LOG" && break
    kill -0 "$DEMO" 2>/dev/null || fail "the demo exited: $(tail -5 "$LOG")"
    sleep 0.5
done
grep -q '^Serving until Ctrl-C' "$LOG" || fail "the demo did not start"
url=$(sed -n 's/^preview: \([^ ]*\).*/\1/p' "$LOG" | head -1)
[ -n "$url" ] || fail "no preview line in the demo's banner"
page="$url?lookup=$LOOKUP"
echo "preview-test: $page"

# Chromium's sandbox needs user namespaces a root shell or a container may
# not give it.
flags=(--headless --disable-gpu --no-proxy-server --disable-dev-shm-usage
       --hide-scrollbars --window-size=1400,1900 --virtual-time-budget=15000)
[ "$(id -u)" = 0 ] && flags+=(--no-sandbox)
timeout 120 "$CHROMIUM" "${flags[@]}" --dump-dom "$page" >"$DOM" 2>/dev/null \
    || fail "chromium could not dump the page"
timeout 120 "$CHROMIUM" "${flags[@]}" --screenshot="$SHOT" "$page" >/dev/null 2>&1 \
    || fail "chromium could not take the screenshot"
[ -s "$SHOT" ] || fail "no screenshot"

# The page records each error and each tile's state in the DOM.
grep -q '<html lang="en" data-js-errors="0"' "$DOM" \
    || fail "JavaScript errors: $(sed -n '/id="js-errors"/,/<\/pre>/p' "$DOM" | head -10)"
grep -q 'id="status" data-ready="yes"' "$DOM" || fail "the tiles did not finish loading"
for tile in $TILES; do
    state=$(grep -o "<section class=\"tile\" id=\"$tile\"[^>]*>" "$DOM" | grep -o 'data-state="[a-z]*"' || true)
    [ "$state" = 'data-state="ok"' ] || fail "tile $tile: ${state:-not on the page}"
    echo "preview-test: $tile drawn with data"
done
lookup=$(grep -o '<section id="lookup"[^>]*>' "$DOM")
echo "$lookup" | grep -q 'data-state="ok"' || fail "the lookup of $LOOKUP: $lookup"
echo "$lookup" | grep -q 'data-sightings="0"' && fail "the lookup of $LOOKUP shows no sightings"
echo "preview-test: ok, no JavaScript error; screenshot: $SHOT"
