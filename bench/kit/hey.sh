#!/usr/bin/env bash
# hey load test of a running gateway, with the parameters of the ContextForge docs:
#   hey -n 10000 -c 200 -m POST -T application/json -H "Authorization: Bearer $TOKEN" \
#       -D payload.json http://localhost:4444/rpc
#
# Usage: bench/kit/hey.sh [SCENARIO]
#   tools-list      POST /rpc   payloads/tools-list.json (default)
#   tools-call      POST /rpc   payloads/tools-call.json (creates the kit_echo REST tool first)
#   initialize      POST /rpc   payloads/initialize.json
#   mcp-tools-list  POST /mcp   payloads/mcp-tools-list-2026.json, stateless 2026-07-28
#   health          GET  /health (open)
#   ready           GET  /ready  (open)
#
# Environment (all optional):
#   N=10000 C=200             requests and concurrent workers (hey -n / -c)
#   URL=http://127.0.0.1:4444 the gateway (or the load balancer in front of it)
#   TOKEN                     a bearer JWT; unset: minted with the project's token CLI
#                             (dist/auth/token.cli.js) from JWT_SECRET_KEY (default my-test-key)
#   HEY=hey                   the hey binary (Debian: apt-get install hey)
#   HEY_ARGS                  extra hey flags, e.g. "-z 30s" or "-disable-keepalive"
#   LOG_DIR=bench/results     where the timestamped log goes
#
# One request is sent first with curl and must answer 200 with a JSON-RPC result (hey cannot
# see a JSON-RPC error inside an HTTP 200). Exits 1 if that check fails or if hey saw any
# non-200 status or connection error.
set -euo pipefail

KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$KIT/../.." && pwd)"
SCENARIO="${1:-tools-list}"
N="${N:-10000}"
C="${C:-200}"
URL="${URL:-http://127.0.0.1:4444}"
URL="${URL%/}"
HEY="${HEY:-hey}"
LOG_DIR="${LOG_DIR:-$ROOT/bench/results}"

log() { printf '%s hey.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

command -v "$HEY" >/dev/null 2>&1 || die "'$HEY' not found: apt-get install hey (or set HEY=/path/to/hey)"
command -v curl >/dev/null 2>&1 || die "curl not found (needed for the pre-flight request)"

METHOD=POST
PAYLOAD=""
EXTRA_HEADERS=()
case "$SCENARIO" in
  tools-list) PATH_="/rpc"; PAYLOAD="$KIT/payloads/tools-list.json" ;;
  tools-call) PATH_="/rpc"; PAYLOAD="$KIT/payloads/tools-call.json" ;;
  initialize) PATH_="/rpc"; PAYLOAD="$KIT/payloads/initialize.json" ;;
  mcp-tools-list)
    PATH_="/mcp"; PAYLOAD="$KIT/payloads/mcp-tools-list-2026.json"
    EXTRA_HEADERS=(-H "Accept: application/json, text/event-stream" -H "MCP-Protocol-Version: 2026-07-28" -H "Mcp-Method: tools/list") ;;
  health) METHOD=GET; PATH_="/health" ;;
  ready) METHOD=GET; PATH_="/ready" ;;
  *) die "unknown scenario '$SCENARIO' (tools-list, tools-call, initialize, mcp-tools-list, health, ready)" ;;
esac
TARGET="$URL$PATH_"

AUTH_HEADERS=()
if [ "$METHOD" = POST ]; then
  if [ -z "${TOKEN:-}" ]; then
    log "TOKEN is unset: minting one with the token CLI"
    TOKEN_ARGS=(--username "${TOKEN_USER:-admin@example.com}" --exp "${TOKEN_EXP:-60}")
    if [ -n "${JWT_SECRET_KEY:-}" ]; then TOKEN_ARGS+=(--secret "$JWT_SECRET_KEY"); fi
    if [ -f "$ROOT/dist/auth/token.cli.js" ]; then
      TOKEN="$(node "$ROOT/dist/auth/token.cli.js" "${TOKEN_ARGS[@]}")"
    else
      TOKEN="$(cd "$ROOT" && npm run --silent token -- "${TOKEN_ARGS[@]}")"
    fi
  fi
  AUTH_HEADERS=(-H "Authorization: Bearer $TOKEN")
  if [ "$SCENARIO" = tools-call ]; then
    URL="$URL" TOKEN="$TOKEN" node "$KIT/seed-tools.mjs" >&2
  fi
fi

# Pre-flight: one request that must answer 200 (and, for JSON-RPC, a result, not an error).
if [ "$METHOD" = POST ]; then
  reply="$(curl -sS -o - -w '\n%{http_code}' -X POST "$TARGET" -H "Content-Type: application/json" \
    ${AUTH_HEADERS[@]+"${AUTH_HEADERS[@]}"} ${EXTRA_HEADERS[@]+"${EXTRA_HEADERS[@]}"} --data-binary "@$PAYLOAD")" || die "pre-flight request to $TARGET failed"
else
  reply="$(curl -sS -o - -w '\n%{http_code}' "$TARGET")" || die "pre-flight request to $TARGET failed"
fi
status="${reply##*$'\n'}"
body="${reply%$'\n'*}"
[ "$status" = 200 ] || die "pre-flight $METHOD $TARGET answered $status: $body"
if [ "$METHOD" = POST ] && { [[ "$body" != *'"result"'* ]] || [[ "$body" == *'"error"'* ]]; }; then
  die "pre-flight $METHOD $TARGET answered a JSON-RPC error: $body"
fi

mkdir -p "$LOG_DIR"
LOG="$LOG_DIR/hey-$SCENARIO-$(date +%Y%m%d_%H%M%S).log"
log "$METHOD $TARGET  n=$N c=$C  log: $LOG"
HEY_CMD=("$HEY" -n "$N" -c "$C" -m "$METHOD")
if [ "$METHOD" = POST ]; then
  HEY_CMD+=(-T application/json ${AUTH_HEADERS[@]+"${AUTH_HEADERS[@]}"} ${EXTRA_HEADERS[@]+"${EXTRA_HEADERS[@]}"} -D "$PAYLOAD")
fi
# shellcheck disable=SC2206 # HEY_ARGS is split on purpose
HEY_CMD+=(${HEY_ARGS:-} "$TARGET")
"${HEY_CMD[@]}" | tee "$LOG"

# hey prints "Status code distribution:" with one "[code] count responses" line per status,
# and "Error distribution:" when connections failed.
bad="$(grep -E '^\s*\[[0-9]{3}\]' "$LOG" | grep -v -E '^\s*\[200\]' || true)"
if [ -n "$bad" ] || grep -q 'Error distribution' "$LOG"; then
  die "non-200 answers or errors under load (see $LOG)"
fi
grep -qE '^\s*\[200\]' "$LOG" || die "hey reported no 200 answers (see $LOG)"
log "ok: every answer was 200"
