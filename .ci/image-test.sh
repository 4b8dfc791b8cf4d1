#!/usr/bin/env bash
# Smoke test of the container image (`make image-test`): runs `gti-relay demo`
# in it, then checks /watchdog, /version, an /observe with the demo token,
# the image's HEALTHCHECK, and that the image is at most 12 MB.
# Every wait is bounded; the container is removed whatever happens.
set -euo pipefail

PODMAN=${PODMAN:-podman --runtime runc}
IMAGE=${IMAGE:-gti-relay:local}
PORT=${PORT:-19090}
NAME=gti-relay-image-test-$$
MAX_BYTES=12000000
URL=http://127.0.0.1:$PORT

cleanup() { $PODMAN rm -f "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT
fail() { echo "image-test: FAIL: $*" >&2; $PODMAN logs "$NAME" 2>&1 | tail -20 >&2 || true; exit 1; }

# The host port differs from the container's, so the demo token's audience
# is told the URL this script calls (as a proxy in front of a relay would).
$PODMAN run -d --name "$NAME" -e RELAY_URL="$URL" \
    --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
    -p "$PORT:9090" "$IMAGE" demo >/dev/null

# The demo prints `Serving until Ctrl-C` once its sample lookup is done.
for _ in $(seq 1 60); do
    if $PODMAN logs "$NAME" 2>/dev/null | grep -q '^Serving until Ctrl-C'; then break; fi
    sleep 0.5
done
$PODMAN logs "$NAME" 2>/dev/null | grep -q '^Serving until Ctrl-C' || fail "the demo did not start"

watchdog=$(curl -sS --max-time 10 -H 'Health-Check: image-test' "$URL/watchdog") || fail "/watchdog unreachable"
[ "$watchdog" = '{"data":"image-test"}' ] || fail "/watchdog answered $watchdog"
echo "watchdog: $watchdog"

version=$(curl -sS --max-time 10 -X POST "$URL/version") || fail "/version unreachable"
echo "$version" | grep -q '"version"' || fail "/version answered $version"
echo "version: $version"

token=$($PODMAN logs "$NAME" 2>/dev/null | sed -n 's/^token: //p' | head -1)
[ -n "$token" ] || fail "no token line in the demo's output"
observe=$(curl -sS --max-time 60 -X POST -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '[{"type":"ip","value":"8.8.8.8"}]' \
    "$URL/observe/observables") || fail "/observe unreachable"
sightings=$(echo "$observe" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["sightings"]["count"])') \
    || fail "/observe answered ${observe:0:300}"
[ "$sightings" -gt 0 ] || fail "/observe found no sightings"
echo "observe: $sightings sightings for 8.8.8.8"

# The image's own HEALTHCHECK (`/gti-relay healthcheck`), run by the runtime.
$PODMAN healthcheck run "$NAME" >/dev/null 2>&1 || fail "HEALTHCHECK failed"
echo "healthcheck: ok"

$PODMAN stop -t 10 "$NAME" >/dev/null
code=$($PODMAN inspect "$NAME" --format '{{.State.ExitCode}}')
[ "$code" = 0 ] || fail "the demo exited with $code on SIGTERM"
echo "SIGTERM: exited 0"

size=$($PODMAN image inspect "$IMAGE" --format '{{.Size}}')
echo "image size: $size bytes ($(awk "BEGIN { printf \"%.1f\", $size / 1000000 }") MB, limit 12 MB)"
[ "$size" -le "$MAX_BYTES" ] || fail "the image is larger than 12 MB"
echo "image-test: ok"
