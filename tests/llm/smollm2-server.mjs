// Minimal OpenAI-compatible chat-completions server over node-llama-cpp, for the end-to-end test.
// usage: node smollm2-server.mjs DIR [PORT]   DIR as made by install-smollm2.sh; PORT 0 or absent: any free port
// Prints "listening on http://127.0.0.1:PORT/v1" once the model is loaded. Requests are served
// one at a time (one context sequence); each starts from an empty chat history.
import http from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, port = "0"] = process.argv.slice(2);
const { getLlama, LlamaChatSession } = await import(pathToFileURL(join(dir, "node/node_modules/node-llama-cpp/dist/index.js")).href);
const modelPath = join(dir, "model.gguf");
const llama = await getLlama({ gpu: false, build: "never" });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize: 2048, threads: 1 }); // >1 thread can stall a busy 2-core box
const sequence = context.getSequence();
let queue = Promise.resolve();

async function complete(body) {
  const messages = body.messages ?? [];
  const system = messages.filter((m) => m.role === "system").map((m) => m.content).join("\n");
  const user = messages.filter((m) => m.role === "user").at(-1)?.content ?? "";
  sequence.clearHistory();
  const session = new LlamaChatSession({ contextSequence: sequence, systemPrompt: system || undefined, autoDisposeSequence: false });
  const text = await session.prompt(String(user), { temperature: body.temperature ?? 0, maxTokens: body.max_tokens ?? 64 });
  session.dispose({ disposeSequence: false });
  return {
    id: "chatcmpl-local", object: "chat.completion", created: Math.floor(Date.now() / 1000), model: body.model ?? "smollm2-135m",
    choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: text } }],
    usage: { prompt_tokens: model.tokenize(system + user).length, completion_tokens: model.tokenize(text).length },
  };
}

const server = http.createServer((req, res) => {
  const reply = (status, obj) => { res.writeHead(status, { "content-type": "application/json" }); res.end(JSON.stringify(obj)); };
  if (req.method !== "POST" || !req.url.endsWith("/chat/completions")) return reply(404, { error: { message: `no route ${req.method} ${req.url}` } });
  let raw = "";
  req.on("data", (chunk) => (raw += chunk));
  req.on("end", () => {
    const job = queue.then(() => complete(JSON.parse(raw)));
    queue = job.catch(() => {});
    job.then((out) => reply(200, out), (err) => reply(500, { error: { message: String(err?.message ?? err) } }));
  });
});
server.listen(Number(port), "127.0.0.1", () => console.log(`listening on http://127.0.0.1:${server.address().port}/v1`));
