# Shared by the editor tests: the repository root, the language server binary and the
# loopback LLM servers. Source it; it defines functions and ROOT, nothing runs.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS="$ROOT/.tools"

# Prints the path of omega-lsp: $OMEGA_LSP, else a debug build from this repository.
find_omega_lsp() {
  if [ -n "${OMEGA_LSP:-}" ]; then
    if [ ! -x "$OMEGA_LSP" ]; then
      echo "OMEGA_LSP=$OMEGA_LSP is not an executable file" >&2
      return 1
    fi
    echo "$OMEGA_LSP"
    return 0
  fi
  (cd "$ROOT" && cargo build -q -p omega-lsp >&2) || {
    echo "cannot build omega-lsp (cargo build -p omega-lsp); set OMEGA_LSP to a built binary" >&2
    return 1
  }
  local dir
  dir=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  echo "${dir:-$ROOT/target}/debug/omega-lsp"
}

# start_llm_server NAME LATENCY [OPTION…]: starts tests/editors/llm_server.py (with the
# further options given), sets ${NAME}_URL and ${NAME}_PID, and registers the process for cleanup.
LLM_PIDS=()
start_llm_server() {
  local name=$1 latency=$2 port_file
  shift 2
  port_file=$(mktemp -u "${WORK:-/tmp}/llm-port-$name.XXXX")
  python3 "$ROOT/tests/editors/llm_server.py" --port-file "$port_file" --latency "$latency" "$@" &
  local pid=$!
  LLM_PIDS+=("$pid")
  for _ in $(seq 100); do
    [ -s "$port_file" ] && break
    sleep 0.05
  done
  if [ ! -s "$port_file" ]; then
    echo "the loopback LLM server $name did not start" >&2
    return 1
  fi
  printf -v "${name}_URL" 'http://127.0.0.1:%s/v1' "$(cat "$port_file")"
  printf -v "${name}_PID" '%s' "$pid"
}

stop_llm_servers() {
  local pid
  for pid in "${LLM_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
}

# requests_seen URL: how many chat completions the loopback server at URL answered.
requests_seen() {
  python3 - "$1" <<'EOF'
import json, sys, urllib.request
base = sys.argv[1].rsplit("/v1", 1)[0]
print(json.load(urllib.request.urlopen(base + "/requests", timeout=5))["requests"])
EOF
}
