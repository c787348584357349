#!/usr/bin/env bash
# Batch Emacs with the eglot snippet of editors/README.md (the block users copy, extracted
# here) against the real omega-lsp and a loopback LLM server; the README's Helix snippet is
# checked as TOML (no Helix package in Debian 12). One line per assertion; exit 0 only when
# all held. Installs Debian's emacs-nox and elpa-eglot with apt when Emacs or eglot is
# missing. KEEP_WORK=1 keeps the scratch folder (its emacs.log) for a look afterwards.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if ! command -v emacs >/dev/null || ! emacs --batch -q --eval '(kill-emacs (if (locate-library "eglot") 0 1))' 2>/dev/null; then
  echo "install: emacs-nox and elpa-eglot (apt)"
  INSTALL_STARTED=$(date +%s)
  SUDO=$([ "$(id -u)" -eq 0 ] || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends emacs-nox elpa-eglot >/dev/null
  echo "(install took $(( $(date +%s) - INSTALL_STARTED )) s)" >&2
fi
STARTED_RUN=$(date +%s)

# snippet NAME: the fenced code block between <!-- NAME-snippet… --> and <!-- /NAME-snippet -->
# in editors/README.md, without its fences.
snippet() {
  awk -v start="<!-- $1-snippet" -v stop="<!-- /$1-snippet -->" '
    index($0, start) == 1 { inside = 1; next }
    index($0, stop) == 1 { inside = 0 }
    inside && /^```/ { next }
    inside { print }' "$ROOT/editors/README.md"
}

# check_helix_snippet FILE: an ok/FAIL line: FILE (the README's Helix languages.toml) parses
# and declares the omega language and its server.
check_helix_snippet() {
  python3 - "$1" <<'EOF'
import sys, tomllib
name = "Helix snippet: valid TOML with [language-server.omega-lsp] and the omega language using it"
try:
    with open(sys.argv[1], "rb") as f:
        toml = tomllib.load(f)
except (OSError, tomllib.TOMLDecodeError) as e:
    print(f"FAIL {name}: {e}")
    sys.exit(0)
server = toml.get("language-server", {}).get("omega-lsp", {})
omega = [l for l in toml.get("language", []) if l.get("name") == "omega"]
ok = (server.get("command") == "omega-lsp" and len(omega) == 1
      and "omega" in omega[0].get("file-types", []) and omega[0].get("language-servers") == ["omega-lsp"])
print(f"ok   {name}" if ok else f"FAIL {name}: {toml}")
EOF
}

LSP=$(find_omega_lsp) || { echo "FAIL omega-lsp: set OMEGA_LSP to the binary, or build it with cargo build -p omega-lsp"; exit 1; }

WORK=$(mktemp -d /tmp/omega-emacs.XXXXXX)
trap 'stop_llm_servers; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
for dir in trusted untrusted hostile; do
  mkdir -p "$WORK/$dir"
  cp "$ROOT/tests/editors/workspace/ledger.omega" "$ROOT/tests/editors/workspace/omega.toml" "$WORK/$dir/"
  # A cache per project (in omega.toml's [llm] table): a run anywhere reaches the LLM server.
  echo 'cache_dir = ".omega-cache"' >>"$WORK/$dir/omega.toml"
done
# A project may not trust itself: eglot reads this unless the snippet stops it.
echo '((nil . ((eglot-workspace-configuration . (:omega (:eval (:trusted t)))))))' >"$WORK/hostile/.dir-locals.el"
# The snippet starts "omega-lsp" from PATH, as users have it.
mkdir -p "$WORK/bin" "$WORK/home"
ln -s "$LSP" "$WORK/bin/omega-lsp"

RESULTS="$WORK/results.txt"
snippet emacs >"$WORK/omega-snippet.el"
if [ ! -s "$WORK/omega-snippet.el" ]; then
  echo "FAIL editors/README.md has no <!-- emacs-snippet --> block"
  exit 1
fi

start_llm_server FAST 0

# HOME: no user init or packages; OPENAI_BASE_URL: the loopback server answers (the snippet
# names the adapter and model).
HOME="$WORK/home" PATH="$WORK/bin:$PATH" OPENAI_BASE_URL="$FAST_URL" \
  OMEGA_TEST_DIR="$WORK" OMEGA_TEST_RESULTS="$RESULTS" OMEGA_TEST_SNIPPET="$WORK/omega-snippet.el" \
  timeout 120 emacs --batch -q -l "$ROOT/tests/editors/emacs_e2e.el" >"$WORK/emacs.log" 2>&1 || true

if [ ! -s "$RESULTS" ]; then
  echo "FAIL emacs: no results were written; its output:"
  cat "$WORK/emacs.log"
  exit 1
fi

snippet helix >"$WORK/languages.toml"
check_helix_snippet "$WORK/languages.toml" >>"$RESULTS" 2>"$WORK/helix.log" ||
  echo "FAIL Helix snippet check: $(tail -n 1 "$WORK/helix.log")" >>"$RESULTS"

cat "$RESULTS"
echo "(emacs.sh took $(( $(date +%s) - STARTED_RUN )) s, installing aside)" >&2
if grep -q '^FAIL' "$RESULTS" || ! grep -q '^done' "$RESULTS"; then
  echo "--- the end of Emacs's output:"
  tail -n 40 "$WORK/emacs.log"
  exit 1
fi
