#!/usr/bin/env bash
# Start the contact centre: migrate + seed the demo data, create demo keys on first run, print URLs and keys.
set -euo pipefail
cd "$(dirname "$0")/.."
export SANGDAM_HOME="${SANGDAM_HOME:-$PWD/.sangdam}"
HOST="${SANGDAM_HOST:-127.0.0.1}"
PORT="${SANGDAM_PORT:-8000}"
SD=.venv/bin/sangdam
KEYS="$SANGDAM_HOME/demo-keys.txt"

$SD init >/dev/null
$SD seed >/dev/null
if [[ ! -s "$KEYS" ]]; then
  # Keys are stored hashed; the demo file (under SANGDAM_HOME, git-ignored) is the only copy of the plaintext.
  umask 077
  {
    echo "customer-channel $($SD keys create --role customer-channel --label demo-web | tail -1)"
    echo "agent            $($SD keys create --role agent --label demo-agent | tail -1)"
    echo "admin            $($SD keys create --role admin --label demo-admin | tail -1)"
  } > "$KEYS"
fi
echo "Sangdam contact centre"
echo "  customer chat : http://$HOST:$PORT/chat     (log in with the customer-channel key)"
echo "  agent console : http://$HOST:$PORT/console  (log in with the agent key)"
echo "  API docs      : http://$HOST:$PORT/docs"
echo "  demo keys     : $KEYS"
sed 's/^/    /' "$KEYS"
exec $SD serve --host "$HOST" --port "$PORT"
