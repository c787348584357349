#!/usr/bin/env bash
# queries/omega/ must be the same files as grammar/queries/ (the grammar's tests check those).
# Prints the differences and exits 1 if not; `--fix` copies grammar/queries over.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src="$here/../../grammar/queries"
dst="$here/queries/omega"
if [ "${1:-}" = "--fix" ]; then
  rm -f "$dst"/*.scm
  cp "$src"/*.scm "$dst"/
fi
if ! diff -r "$src" "$dst" >&2; then
  echo "editors/neovim/queries/omega differs from grammar/queries: run editors/neovim/check-queries.sh --fix" >&2
  exit 1
fi
