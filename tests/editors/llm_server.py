#!/usr/bin/env python3
"""A deterministic OpenAI-compatible chat server on 127.0.0.1 for the editor tests.

POST /v1/chat/completions answers "Reply: PROMPT" (PROMPT = the last user message), after
--latency seconds. GET /requests tells how many completions were asked for, so a test can
show that an untrusted folder sent nothing, and, per completion, what its Authorization
header held: "none", "expected" (`Bearer KEY` where KEY's SHA-256 is --expect-key-sha256) or
"other"; the key itself is never kept or printed. The chosen port is written to --port-file once
the server listens, so tests can start it on port 0 and wait for that file.
"""

import argparse
import hashlib
import os
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Counter:
    """The completions asked for, each as what its Authorization header held."""

    def __init__(self):
        self.lock = threading.Lock()
        self.keys = []

    def bump(self, key):
        with self.lock:
            self.keys.append(key)

    def get(self):
        with self.lock:
            return len(self.keys)

    def seen_keys(self):
        with self.lock:
            return list(self.keys)

def key_seen(header, expected_sha256):
    """What an Authorization header held, as "none", "expected" or "other"."""
    if not header:
        return "none"
    scheme, _, key = header.partition(" ")
    if scheme == "Bearer" and expected_sha256 and hashlib.sha256(key.encode()).hexdigest() == expected_sha256:
        return "expected"
    return "other"

def make_handler(latency, counter, expected_sha256):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_json(self, status, payload):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a cancelled run): nothing to answer

        def do_GET(self):
            if self.path == "/requests":
                self.send_json(200, {"requests": counter.get(), "keys": counter.seen_keys()})
            else:
                self.send_json(404, {"error": {"message": "not found: " + self.path}})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self.path.endswith("/chat/completions"):
                self.send_json(404, {"error": {"message": "not found: " + self.path}})
                return
            counter.bump(key_seen(self.headers.get("Authorization"), expected_sha256))
            try:
                request = json.loads(raw)
                users = [m for m in request["messages"] if m.get("role") == "user"]
                prompt = users[-1]["content"]
            except (ValueError, KeyError, IndexError, TypeError) as e:
                self.send_json(400, {"error": {"message": "bad request: %s" % e}})
                return
            if latency > 0:
                time.sleep(latency)
            answer = "Reply: " + prompt
            self.send_json(
                200,
                {
                    "id": "chatcmpl-editor-test",
                    "object": "chat.completion",
                    "model": request.get("model", "test-model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": answer},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": len(prompt.split()),
                        "completion_tokens": len(answer.split()),
                    },
                },
            )

    return Handler

def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--expect-key-sha256", default="", help="SHA-256 (hex) of the API key a request may carry")
    args = parser.parse_args()
    handler = make_handler(args.latency, Counter(), args.expect_key_sha256.lower())
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))

    os.replace(tmp, args.port_file)
    server.serve_forever()

if __name__ == "__main__":
    main()
