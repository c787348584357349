// Driven by tests/editors/vscode.sh: the packaged extension in code-server, in Chromium.
// Prints one line per assertion; exits 0 only when all held.
"use strict";

const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const http = require("http");
const fs = require("fs");
const os = require("os");
const path = require("path");

const URL = process.env.OMEGA_TEST_URL;
const WORKSPACE = process.env.OMEGA_TEST_WORKSPACE;
const LLM_URL = process.env.OMEGA_TEST_LLM_URL;
const SCREENSHOT = process.env.OMEGA_TEST_SCREENSHOT;
const USER_DIR = process.env.OMEGA_TEST_USER_DIR;
const API_KEY = process.env.OMEGA_TEST_API_KEY;

const results = [];
function check(name, ok, detail) {
  results.push(ok);
  console.log((ok ? "ok   " : "FAIL ") + name + (ok || !detail ? "" : ": " + detail));
  return ok;
}

/** What the loopback LLM server saw: {requests, keys} (per request: "none", "expected", "other"). */
function llmServerSaw() {
  const base = LLM_URL.replace(/\/v1$/, "");
  return new Promise((resolve) => {
    http
      .get(base + "/requests", (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve(JSON.parse(body)));
      })
      .on("error", () => resolve({ requests: -1, keys: [] }));
  });
}

async function requestsSeen() {
  return (await llmServerSaw()).requests;
}

/** The log files code-server writes an output channel's text to (all of it, not only what the panel shows). */
function channelFiles(name) {
  const found = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.replace(/^\d+-/, "") === name + ".log") found.push(p);
    }
  };
  try {
    walk(path.join(USER_DIR, "logs"));
  } catch {
    return [];
  }
  const order = (f) => parseInt(path.basename(f), 10) || 0;
  return found.sort((a, b) => order(a) - order(b));
}

function channelText(name) {
  return channelFiles(name).map((f) => fs.readFileSync(f, "utf8")).join("");
}

/**
 * The server's starts, from the extension's line in the "Omega Language Server" output
 * ("omega-lsp: PATH (found through WHERE; log level L)"), each with what the output holds
 * after it, up to the next start.
 */
function serverStarts() {
  const text = channelText("Omega Language Server");
  const re = /^omega-lsp: (.+) \(found through (\w+); log level (\w+)\)$/gm;
  const starts = [];
  for (let m; (m = re.exec(text)); ) {
    starts.push({ path: m[1], from: m[2], level: m[3], at: m.index, end: re.lastIndex });
  }
  return starts.map((s, i) => ({ ...s, after: text.slice(s.end, i + 1 < starts.length ? starts[i + 1].at : text.length) }));
}

/** The server's own log line (OMEGA_LOG=info) for an analysis of the test file. */
const ANALYSED = /\bINFO\s+analysed file:\S*ledger\.omega version/;

/** Waits until `fn` returns a truthy value; returns it, or undefined after `ms`. */
async function until(fn, ms, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) return undefined;
    await new Promise((r) => setTimeout(r, every));
  }
}

async function statusText(page) {
  const item = page.locator(".statusbar-item", { hasText: "Ω" }).first();
  return (await item.count()) ? (await item.innerText()).trim() : "";
}

/** The text an editor shows, with inlay hints, which VS Code draws as CSS generated content. */
function renderedText(lines) {
  return lines.evaluate((el) => {
    const parts = [];
    for (const span of el.querySelectorAll("span")) {
      for (const pseudo of ["::before", "::after"]) {
        const c = getComputedStyle(span, pseudo).content;
        if (c && c !== "none" && c !== "normal") parts.push(c);
      }
      if (!span.children.length) parts.push(span.textContent);
    }
    return parts.join(" ").replace(/\u00a0/g, " ");
  });
}

/**
 * Hovers `target` until a hover containing `text` shows; returns its text, or "".
 * The element can be redrawn (a newer analysis or run) under a pointer already resting on it, and
 * a resting pointer shows no hover: each attempt moves away first.
 */
async function hoverShowing(page, target, text) {
  for (let attempt = 0; attempt < 5; attempt++) {
    await page.mouse.move(5, 300);
    await target.hover({ force: true }).catch(() => undefined);
    const shown = await until(async () => {
      const h = page.locator(".monaco-hover:visible", { hasText: text }).first();
      return (await h.count()) ? await h.innerText() : undefined;
    }, 4000);
    if (shown) return shown;
  }
  return "";
}

/** Runs a command from the palette; `asks`: the command opens a quick pick or input box of its own. */
async function palette(page, title, { asks = false } = {}) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: 10000 });
  await input.fill(">" + title);
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
  await row.waitFor({ state: "visible", timeout: 10000 });
  await page.keyboard.press("Enter");
  if (!asks) await input.waitFor({ state: "hidden", timeout: 10000 }).catch(() => undefined);
}

/** A trusted workspace (the server runs files): highlighting, warning, run on save, commands. */
async function trusted(page, editorLines) {
  // Highlighting from the TextMate grammar: keywords are coloured differently from names.
  const colours = await until(() => editorLines.evaluate((el) => {
    const spans = [...el.querySelectorAll("span span")];
    const colour = (t) => {
      const s = spans.find((x) => x.textContent === t);
      return s ? getComputedStyle(s).color : null;
    };
    const c = { define: colour("define"), parallel: colour("parallel"), name: colour("audit-serializer") };
    return c.define && c.name && c.define !== c.name ? c : undefined;
  }), 10000) || {};
  check("TextMate highlighting: `define` and `parallel` coloured as keywords",
    colours.define && colours.name && colours.define !== colours.name && colours.parallel === colours.define,
    JSON.stringify(colours));

  // The deadlock warning: a squiggle, and its message on hover.
  const squiggle = page.locator(".monaco-editor .squiggly-warning").first();
  const squiggled = await squiggle.waitFor({ timeout: 30000 }).then(() => true, () => false);
  check("warning squiggle from omega-lsp", squiggled);
  let hoverText = "";
  if (squiggled) hoverText = await hoverShowing(page, squiggle, "deadlock");
  check("hover on the squiggle shows the deadlock message",
    hoverText.includes("possible deadlock") && hoverText.includes("ledger-serializer"), hoverText || "no hover");
  await page.mouse.move(5, 300);

  // The warning's quick fix "Reproduce by exploring schedules", through the language client:
  // the warning gains its seed, a "▶ Replay seed S" lens appears, and the replay shows where
  // each task is blocked. No request reaches the LLM server (stand-in answers).
  const beforeExplore = await requestsSeen();
  // The quick-fix menu lists what the server answered when it opened; a request made while
  // the editor was still busy can come back empty, so open it again until the action is there.
  const action = page.locator(".action-widget .monaco-list-row", { hasText: "Reproduce by exploring schedules" }).first();
  let offered = false;
  for (let attempt = 0; !offered && attempt < 5; attempt++) {
    await page.keyboard.press("Escape");
    await page.keyboard.press("F1");
    await page.locator(".quick-input-widget input").fill(":13:12");
    await page.keyboard.press("Enter");
    await page.waitForTimeout(300);
    await page.keyboard.press("Control+.");
    offered = await action.waitFor({ state: "visible", timeout: 4000 }).then(() => true, () => false);
  }
  check("the deadlock warning offers the quick fix Reproduce by exploring schedules", offered);
  if (offered) await action.click();
  else await page.keyboard.press("Escape");
  const lens = page.locator(".codelens-decoration a", { hasText: "Replay seed" }).first();
  const lensShown = await lens.waitFor({ state: "visible", timeout: 60000 }).then(() => true, () => false);
  check("exploring adds a ▶ Replay seed lens", lensShown, lensShown ? "" : await renderedText(editorLines));
  if (lensShown) {
    await lens.click();
    const blocked = await until(async () => {
      const t = await renderedText(editorLines);
      return (t.match(/⏸ task \d+ waits for \S+-serializer/g) || []).length >= 2 ? t : undefined;
    }, 20000);
    check("Replay seed: the replayed deadlock shows each task's blocked place inline", !!blocked,
      await renderedText(editorLines));
  }
  check("exploring and replaying sent nothing to the LLM server", (await requestsSeen()) === beforeExplore,
    `requests ${beforeExplore} -> ${await requestsSeen()}`);

  // Edit and save: the run on save, the status bar, the inline answer.
  await editorLines.click();
  await page.keyboard.press("Control+End");
  await page.keyboard.press("Enter");
  const before = await requestsSeen();
  await page.keyboard.press("Control+S");
  const running = await until(async () => /running/.test(await statusText(page)), 15000, 50);
  check("status bar shows the run in progress after save", !!running, await statusText(page));
  const done = await until(async () => {
    const t = await statusText(page);
    return /done/.test(t) ? t : undefined;
  }, 20000);
  check("status bar shows the finished run with its LLM call count", !!done && /1 LLM call/.test(done), done || (await statusText(page)));
  const hint = await until(async () => {
    const t = await renderedText(editorLines);
    return t.includes("Reply: What is 2+2?") ? t : undefined;
  }, 10000);
  check("inline answer (inlay hint) after save", !!hint, await renderedText(editorLines));
  check("the answer came from the loopback LLM server (1 request)", (await requestsSeen()) === before + 1,
    `requests ${before} -> ${await requestsSeen()}`);
  // omega.server.logLevel "info" in the settings: the server logs each run's start.
  const runLogged = await until(async () => {
    const start = serverStarts().pop();
    return start && /\bINFO\s+run \d+ of file:\S*ledger\.omega: the file/.test(start.after) ? start : undefined;
  }, 5000);
  check("omega.server.logLevel \"info\": the Omega Language Server output shows the run's start line (OMEGA_LOG=info)",
    !!runLogged && runLogged.level === "info",
    JSON.stringify(serverStarts().map(({ level, after }) => ({ level, after: after.slice(-600) }))));

  // Hover on the call: the full answer from the server.
  const call = editorLines.locator("span span").filter({ hasText: /^infer\.op$/ }).first();
  const callHover = await hoverShowing(page, call, "Reply: What is 2+2?");
  check("hover on the infer.op call shows its answer", !!callHover);
  await page.mouse.move(5, 300);

  // "Copy answer" in that hover: the extension declares omega.copyAnswer, so the server adds
  // the link; clicking it puts the whole answer on the clipboard and says so in the status bar.
  {
    const expected = "Reply: What is 2+2?";
    await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: URL }).catch(() => undefined);
    const readClipboard = () => page.evaluate(() => navigator.clipboard.readText()).catch((e) => "<unreadable: " + e.message + ">");
    const sentinel = "clipboard before the copy " + Date.now();
    await page.evaluate((t) => navigator.clipboard.writeText(t), sentinel).catch(() => undefined);
    const clipboardReadable = (await readClipboard()) === sentinel;
    let offeredCopy = false;
    let copiedMessage = false;
    for (let attempt = 0; !copiedMessage && attempt < 5; attempt++) {
      const shown = await hoverShowing(page, call, "Copy answer");
      offeredCopy = offeredCopy || shown.includes("Copy answer");
      if (!shown) continue;
      const link = page.locator(".monaco-hover:visible a", { hasText: "Copy answer" }).first();
      if (!(await link.click({ timeout: 3000 }).then(() => true, () => false))) continue;
      copiedMessage = !!(await until(async () => {
        const item = page.locator(".statusbar-item", { hasText: "Omega: answer copied" });
        return (await item.count()) > 0;
      }, 4000));
    }
    check("hover on the infer.op call offers Copy answer", offeredCopy);
    check("clicking Copy answer shows \"Omega: answer copied\" in the status bar", copiedMessage);
    if (clipboardReadable) {
      const copied = await until(async () => {
        const t = await readClipboard();
        return t === expected ? t : undefined;
      }, 3000);
      check("the clipboard holds the whole answer", copied === expected, JSON.stringify(await readClipboard()));
    } else {
      console.log("skip the clipboard's content: Chromium's clipboard is not readable here (" + (await readClipboard()) + ")");
    }
    await page.mouse.move(5, 300);
    await page.keyboard.press("Escape");
  }

  // The screenshot for the README: the warning's hover and the inline answer, no side bar.
  await page.keyboard.press("Control+B");
  await page.locator(".explorer-folders-view").waitFor({ state: "hidden", timeout: 5000 }).catch(() => undefined);
  if (squiggled) await hoverShowing(page, squiggle, "deadlock");
  await page.screenshot({ path: SCREENSHOT, clip: { x: 0, y: 0, width: 1000, height: 470 } });
  check("screenshot saved", fs.existsSync(SCREENSHOT) && fs.statSync(SCREENSHOT).size > 10000, SCREENSHOT);
  await page.mouse.move(5, 300);

  // Clear the cache, then Run File from the command palette: a fresh LLM call.
  await palette(page, "Omega: Clear LLM Cache");
  const cleared = await until(async () => {
    const n = page.locator(".notifications-toasts", { hasText: "cache is cleared" });
    return (await n.count()) > 0;
  }, 10000);
  check("Omega: Clear LLM Cache from the command palette", !!cleared);
  const beforeRun = await requestsSeen();
  await palette(page, "Omega: Run File");
  const running2 = await until(async () => /running/.test(await statusText(page)), 15000, 50);
  const done2 = await until(async () => /done/.test(await statusText(page)), 20000);
  check("Omega: Run File from the command palette runs the file (running → done, 1 new LLM request)",
    !!running2 && !!done2 && (await requestsSeen()) === beforeRun + 1,
    `running ${!!running2}, done ${!!done2}, requests ${beforeRun} -> ${await requestsSeen()}`);

  // Cancel: clicking the status bar item while a run waits on the LLM server.
  await palette(page, "Omega: Clear LLM Cache");
  await palette(page, "Omega: Run File");
  const running3 = await until(async () => /running/.test(await statusText(page)), 15000, 50);
  if (running3) {
    await page.locator(".statusbar-item", { hasText: "Ω" }).first().click();
  }
  const cancelled = await until(async () => /cancelled/.test(await statusText(page)), 10000);
  check("clicking the status bar item while running cancels the run", !!running3 && !!cancelled, await statusText(page));

  // Run Form at Cursor: only the form under the cursor runs. With the cache cleared, the
  // whole file would ask the LLM server once; (define ledger-serializer …) asks nothing.
  await palette(page, "Omega: Clear LLM Cache");
  const runFormAt = async (line) => {
    const n = await requestsSeen();
    await page.keyboard.press("F1");
    await page.locator(".quick-input-widget input").fill(`:${line}:2`);
    await page.keyboard.press("Enter");
    await page.waitForTimeout(200);
    await palette(page, "Omega: Run Form at Cursor");
    const started = await until(async () => !/done/.test(await statusText(page)), 5000, 20);
    const finished = await until(async () => {
      const t = await statusText(page);
      return /done/.test(t) ? t : undefined;
    }, 20000);
    return { started: !!started, finished, requests: (await requestsSeen()) - n };
  };
  const plain = await runFormAt(3);
  const asking = await runFormAt(16);
  check("Omega: Run Form at Cursor runs only that form (line 3: no LLM request; line 16: one)",
    !!plain.finished && plain.requests === 0 && !!asking.finished && asking.requests === 1,
    JSON.stringify({ plain, asking }));

  // The Omega output channel holds the program's output.
  await palette(page, "Omega: Show Output");
  const outputText = await until(async () => {
    const panel = page.locator(".panel .monaco-editor .view-lines").first();
    const t = (await panel.count()) ? (await panel.innerText()).replace(/\u00a0/g, " ") : "";
    return t.includes("clerk 1 posted") && t.includes("Reply: What is 2+2?") ? t : undefined;
  }, 10000);
  if (!outputText && process.env.OMEGA_TEST_DEBUG_DIR) {
    await page.screenshot({ path: path.join(process.env.OMEGA_TEST_DEBUG_DIR, "output-failure.png") });
  }
  check("the Omega output channel shows the program's output", !!outputText);

  // Restart Server: a new server process analyses the open file again.
  await palette(page, "Omega: Restart Server");
  const reset = await until(async () => (await statusText(page)) === "Ω", 15000, 50);
  const again = await page.locator(".monaco-editor .squiggly-warning").first().waitFor({ timeout: 30000 }).then(() => true, () => false);
  check("Omega: Restart Server restarts omega-lsp (status reset, warning back)", !!reset && again, await statusText(page));

  await storeApiKey(page);
  await typingIndents(page, editorLines);
}

/**
 * Omega: Store an API Key in Secret Storage: the key typed into a password box reaches the
 * LLM server the settings name, as the server's OPENAI_API_KEY (the workbench's environment
 * has none), and shows in no output or log.
 */
async function storeApiKey(page) {
  const startsBefore = serverStarts().length;
  const keysBefore = (await llmServerSaw()).keys;
  await palette(page, "Omega: Store an API Key in Secret Storage", { asks: true });
  const input = page.locator(".quick-input-widget input");
  const variable = page.locator(".quick-input-list .monaco-list-row", { hasText: "OPENAI_API_KEY" }).first();
  let stored = false;
  if (await variable.waitFor({ state: "visible", timeout: 10000 }).then(() => true, () => false)) {
    await input.fill("OPENAI_API_KEY");
    await page.keyboard.press("Enter");
    const password = page.locator(".quick-input-widget input[type=password]");
    if (await password.waitFor({ state: "visible", timeout: 10000 }).then(() => true, () => false)) {
      await password.fill(API_KEY);
      await page.keyboard.press("Enter");
      stored = !!(await until(async () => {
        const n = page.locator(".notifications-toasts", { hasText: "stored in VS Code's secret storage" });
        return (await n.count()) > 0;
      }, 10000));
    }
  }
  check("Omega: Store an API Key in Secret Storage: a variable to pick, the key in a password box, \"stored\"", stored);

  // Storing restarts the server, which gets the key in its environment.
  const restarted = await until(async () => {
    const starts = serverStarts();
    return starts.length > startsBefore && ANALYSED.test(starts[starts.length - 1].after);
  }, 20000);
  check("storing the key restarts omega-lsp (a new start in its output, then an analysis)", !!restarted,
    `starts ${startsBefore} -> ${serverStarts().length}`);

  // A run that asks the LLM server (the cache cleared; again if the clear came too early).
  const before = await requestsSeen();
  let asked = false;
  for (let attempt = 0; !asked && attempt < 3; attempt++) {
    await palette(page, "Omega: Clear LLM Cache");
    await palette(page, "Omega: Run File");
    asked = !!(await until(async () => (await requestsSeen()) > before, 15000));
  }
  await until(async () => /done/.test(await statusText(page)), 10000);
  const keysAfter = (await llmServerSaw()).keys.slice(keysBefore.length);
  check("requests before the key was stored carried none", keysBefore.length > 0 && keysBefore.every((k) => k === "none"),
    JSON.stringify(keysBefore));
  check("the stored key reached the LLM server at the configured base URL (Authorization: Bearer, from OPENAI_API_KEY)",
    asked && keysAfter.length > 0 && keysAfter.every((k) => k === "expected"), JSON.stringify({ asked, keysAfter }));

  // Nowhere in what VS Code shows or logs: the Omega and Omega Language Server outputs (as
  // code-server writes them), the extension host's and code-server's logs.
  const scanned = [];
  const walk = (p) => {
    if (fs.statSync(p).isDirectory()) fs.readdirSync(p).forEach((e) => walk(path.join(p, e)));
    else scanned.push(p);
  };
  walk(path.join(USER_DIR, "logs"));
  walk(process.env.OMEGA_TEST_CODE_SERVER_LOG);
  const holding = scanned.filter((f) => fs.readFileSync(f, "latin1").includes(API_KEY));
  const outputs = channelFiles("Omega").length > 0 && channelFiles("Omega Language Server").length > 0;
  check(`the key shows in no output channel or log (${scanned.length} files, the Omega outputs among them)`,
    outputs && holding.length === 0, outputs ? "found in " + holding.join(", ") : "the output channels' files are not there");
}

/** The editor's lines on screen, top to bottom, as text (inlay hints are not text). */
function visibleLines(editorLines) {
  return editorLines.evaluate((el) => [...el.querySelectorAll(".view-line")]
    .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
    .map((line) => line.textContent.replace(/\u00a0/g, " ")));
}

/**
 * Enter after `(define (g x)` puts the cursor 2 columns in, as omega-lsp answers
 * textDocument/onTypeFormatting (editor.formatOnType is on for omega by the extension's
 * defaults). VS Code drops the server's edit when the text changed before it came back, so
 * each attempt waits for the indentation before typing on, and a late one types a fresh form.
 */
async function typingIndents(page, editorLines) {
  let seen = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const head = `(define (g${attempt} x)`;
    await page.keyboard.press("Escape");
    await editorLines.click();
    await page.keyboard.press("Control+End");
    await page.keyboard.press("Enter");
    await page.keyboard.type(head, { delay: 20 });
    await page.keyboard.press("Escape"); // a completion list open here would take the Enter
    await page.keyboard.press("Enter");
    const lineAfterHead = async () => {
      seen = await visibleLines(editorLines);
      const at = seen.findIndex((l) => l.startsWith(head));
      return at >= 0 && at + 1 < seen.length ? seen[at + 1] : undefined;
    };
    const indented = await until(async () => {
      const next = await lineAfterHead();
      return next !== undefined && /^  (?! )/.test(next) ? next : undefined;
    }, 8000);
    if (!indented) continue;
    await page.keyboard.type("y");
    const typed = await until(async () => {
      const next = await lineAfterHead();
      return next && next.startsWith("  y") ? next : undefined;
    }, 5000);
    check("Enter after (define (g x) indents the new line 2 columns (omega-lsp onTypeFormatting), the cursor there",
      !!typed, JSON.stringify(seen.slice(-4)));
    return;
  }
  check("Enter after (define (g x) indents the new line 2 columns (omega-lsp onTypeFormatting), the cursor there",
    false, "never indented: " + JSON.stringify(seen.slice(-4)));
}

/** Restricted Mode: analysis but no evaluation, until the user trusts the folder. */
async function restricted(page, editorLines) {
  const squiggled = await page.locator(".monaco-editor .squiggly-warning").first().waitFor({ timeout: 30000 }).then(() => true, () => false);
  check("Restricted Mode, the server shipped in the extension: the deadlock warning still shows", squiggled);
  const before = await requestsSeen();
  let sawRunning = false;
  const watch = setInterval(async () => {
    if (/running/.test(await statusText(page).catch(() => ""))) sawRunning = true;
  }, 50);
  await editorLines.click();
  await page.keyboard.press("Control+End");
  await page.keyboard.press("Enter");
  await page.keyboard.press("Control+S");
  await palette(page, "Omega: Run File");
  const refused = await until(async () => {
    const n = page.locator(".notifications-toasts", { hasText: "untrusted workspace" });
    return (await n.count()) > 0;
  }, 10000);
  check("Restricted Mode: Run File is refused with a message", !!refused);
  clearInterval(watch);
  check("Restricted Mode: no run, nothing sent to the LLM server",
    !sawRunning && (await requestsSeen()) === before, `running seen ${sawRunning}, requests ${before} -> ${await requestsSeen()}`);

  // Trusting the folder turns evaluation on, without a restart.
  await palette(page, "Workspaces: Manage Workspace Trust");
  const trustButton = page.locator(".workspace-trust-editor .monaco-button", { hasText: /^Trust$/ }).first();
  await trustButton.waitFor({ timeout: 10000 });
  await trustButton.click();
  const modal = page.locator(".monaco-modal-editor-block");
  await modal.locator(".codicon-close").first().click({ timeout: 5000 }).catch(() => palette(page, "View: Close Editor"));
  await modal.waitFor({ state: "hidden", timeout: 10000 }).catch(() => undefined);
  await page.locator(".editor-group-container .tab", { hasText: "ledger.omega" }).first().click();
  await editorLines.click();
  await page.keyboard.press("Control+End");
  await page.keyboard.press("Enter");
  await page.keyboard.press("Control+S");
  const done = await until(async () => /done/.test(await statusText(page)), 20000);
  check("after trusting the folder, saving runs the file (1 request to the LLM server)",
    !!done && (await requestsSeen()) === before + 1, `status ${await statusText(page)}, requests ${before} -> ${await requestsSeen()}`);
}

/** omega.server.path names no binary: an error that says what is wrong and how to fix it. */
async function missing(page) {
  const toast = await until(async () => {
    const n = page.locator(".notifications-toasts .notification-toast", { hasText: "omega.server.path" }).first();
    return (await n.count()) ? (await n.innerText()).replace(/\u00a0/g, " ") : undefined;
  }, 30000);
  check("a server path that names no binary: an error naming the setting, with an Open Settings button",
    !!toast && toast.includes("not an executable file") && toast.includes("Open Settings"), toast || "no notification");

  // The error's button opens the Settings editor at omega.server.path (under Remote: code-server
  // is a remote window); clearing the field leaves omega-lsp on PATH (the extension restarts
  // the server on the change).
  const openSettings = page.locator(".notifications-toasts .notification-toast", { hasText: "omega.server.path" })
    .locator(".monaco-button", { hasText: "Open Settings" }).first();
  await openSettings.click({ timeout: 5000 }).catch(() => undefined);
  const setting = (label) => page.locator(".settings-editor .setting-item-contents", { hasText: label }).first();
  const pathField = setting("Server: Path").locator("input").first();
  const opened = await pathField.waitFor({ state: "visible", timeout: 15000 }).then(() => true, () => false);
  if (opened) {
    await pathField.click();
    await page.keyboard.press("Control+A");
    await page.keyboard.press("Delete");
  }
  const fromPath = await until(async () => serverStarts()[0], 20000);
  check("Open Settings shows omega.server.path; clearing it starts omega-lsp from PATH (\"found through PATH\" in its output)",
    opened && !!fromPath && fromPath.from === "PATH" && fromPath.path === process.env.OMEGA_TEST_PATH_SERVER,
    JSON.stringify({ opened, start: fromPath && { path: fromPath.path, from: fromPath.from }, output: channelText("Omega Language Server").slice(-300) }));

  // omega.server.logLevel in the same Settings editor: a change restarts the server with
  // OMEGA_LOG set to it.
  await page.locator(".settings-editor .settings-header .suggest-input-container").first().click({ timeout: 5000 }).catch(() => undefined);
  await page.keyboard.press("Control+A");
  await page.keyboard.type("omega.server.logLevel");
  const levelSelect = setting("Log Level").locator("select").first();
  const chosen = await levelSelect.selectOption("info", { timeout: 15000 }).then(() => true, () => false);
  const infoStart = await until(async () => {
    const s = serverStarts();
    return s.length === 2 && ANALYSED.test(s[1].after) ? s : undefined;
  }, 20000);
  check("omega.server.logLevel warn → info in the Settings editor restarts omega-lsp, which then logs its analyses",
    chosen && !!infoStart && infoStart[0].level === "warn" && !/\bINFO\s/.test(infoStart[0].after) && infoStart[1].level === "info",
    JSON.stringify({ chosen, starts: serverStarts().map(({ from, level, after }) => ({ from, level, after: after.slice(-400) })) }));

  // Back in the file: the server from PATH warns of the deadlock.
  const modal = page.locator(".monaco-modal-editor-block");
  await modal.locator(".codicon-close").first().click({ timeout: 5000 }).catch(() => palette(page, "View: Close Editor"));
  await modal.waitFor({ state: "hidden", timeout: 10000 }).catch(() => undefined);
  await page.locator(".editor-group-container .tab", { hasText: "ledger.omega" }).first().click();
  const squiggled = await page.locator(".monaco-editor .squiggly-warning").first().waitFor({ timeout: 30000 }).then(() => true, () => false);
  check("omega-lsp from PATH: the deadlock warning shows", squiggled);

  // Omega: Restart Server: a new process, from PATH again, analyses the file.
  await palette(page, "Omega: Restart Server");
  const again = await until(async () => {
    const s = serverStarts();
    return s.length === 3 && ANALYSED.test(s[2].after) ? s[2] : undefined;
  }, 20000);
  check("Omega: Restart Server starts omega-lsp from PATH again, and it analyses the file",
    !!again && again.from === "PATH", `starts ${serverStarts().length}`);
}

let currentPage;

async function main() {
  // In the work directory vscode.sh removes, when it gives one.
  const profile = process.env.OMEGA_TEST_CHROMIUM_PROFILE || fs.mkdtempSync(path.join(os.tmpdir(), "omega-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1180, height: 640 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = context.pages()[0] || (await context.newPage());
  currentPage = page;
  await page.goto(`${URL}/?folder=${encodeURIComponent(WORKSPACE)}`);
  await page.locator(".monaco-workbench").waitFor({ timeout: 60000 });

  // Open the file from the explorer.
  const row = page.locator(".explorer-folders-view .monaco-list-row", { hasText: "ledger.omega" }).first();
  await row.waitFor({ timeout: 30000 });
  await row.click();
  await page.locator(".monaco-editor .view-lines", { hasText: "ledger-serializer" }).first().waitFor({ timeout: 30000 });
  const editorLines = page.locator(".editor-group-container .monaco-editor .view-lines").first();

  if (process.env.OMEGA_TEST_MODE === "restricted") {
    await restricted(page, editorLines);
  } else if (process.env.OMEGA_TEST_MODE === "missing") {
    await missing(page);
  } else {
    await trusted(page, editorLines);
  }

  const allOk = results.every(Boolean);
  console.log(allOk ? "all held" : "some failed");
  process.exit(allOk ? 0 : 1); // closing the browser can take 30 s; nothing is left to save
}

main().catch(async (e) => {
  if (currentPage && process.env.OMEGA_TEST_DEBUG_DIR) {
    const shot = path.join(process.env.OMEGA_TEST_DEBUG_DIR, `failure-${process.env.OMEGA_TEST_MODE}.png`);
    await currentPage.screenshot({ path: shot }).catch(() => undefined);
    console.log("(screenshot of the failure: " + shot + ")");
  }
  console.log("FAIL the VS Code test ran to the end: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
