-- Driven by tests/editors/neovim.sh: the Neovim plugin against the real omega-lsp.
-- Writes one line per assertion to $OMEGA_TEST_RESULTS, then "done" when every step ran.

local dir = vim.env.OMEGA_TEST_DIR
local fast_url = vim.env.OMEGA_TEST_FAST_URL
local slow_url = vim.env.OMEGA_TEST_SLOW_URL
local lines = {}

local function check(name, ok, detail)
  if ok then
    table.insert(lines, "ok   " .. name)
  else
    table.insert(lines, "FAIL " .. name .. (detail and (": " .. detail) or ""))
  end
  return ok
end

local function requests_seen(url)
  local base = url:gsub("/v1$", "")
  local out = vim.system({ "python3", "-c", [[
import json, sys, urllib.request
print(json.load(urllib.request.urlopen(sys.argv[1] + "/requests", timeout=5))["requests"])
]], base }):wait()
  return tonumber(vim.trim(out.stdout or "")) or -1
end

local events = {}
vim.api.nvim_create_autocmd("User", {
  pattern = "OmegaEvalStatus",
  callback = function(args)
    table.insert(events, args.data)
  end,
})

--- Waits for an evalStatus event for `uri` with `state` after event number `after`.
local function wait_status(uri, state, after, ms)
  local found
  vim.wait(ms, function()
    for i = after + 1, #events do
      if events[i].uri == uri and events[i].state == state then
        found = events[i]
        return true
      end
    end
    return false
  end, 20)
  return found
end

local function hint_labels(buf)
  local out = {}
  for _, h in ipairs(vim.lsp.inlay_hint.get({ bufnr = buf })) do
    local label = h.inlay_hint.label
    if type(label) == "table" then
      label = table.concat(vim.tbl_map(function(p)
        return p.value
      end, label))
    end
    table.insert(out, label)
  end
  return out
end

local function find_deadlock(buf)
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.code == "omega::deadlock-order" then
      return d
    end
  end
end

local function open(path)
  vim.cmd.edit(vim.fn.fnameescape(path))
  local buf = vim.api.nvim_get_current_buf()
  local client
  vim.wait(10000, function()
    client = vim.lsp.get_clients({ bufnr = buf, name = "omega" })[1]
    return client ~= nil and client.initialized
  end, 20)
  return buf, client
end

local function run_command(fn)
  local done, result, err = false, nil, nil
  fn(function(e, r)
    err, result, done = e, r, true
  end)
  vim.wait(10000, function()
    return done
  end, 20)
  return done, result, err
end

local function settings(url, cache)
  return { llm = { adapter = "openai", baseUrl = url, model = "test-model", cacheDir = cache } }
end

local function main()
  vim.cmd("filetype on")
  vim.opt.rtp:prepend(vim.env.OMEGA_TEST_PLUGIN)
  vim.opt.rtp:prepend(vim.env.OMEGA_TEST_PARSER)
  local omega = require("omega")
  omega.setup({ trusted = { dir .. "/trusted" }, settings = settings(fast_url, dir .. "/cache-fast") })

  -- Analysis: the deadlock warning with its related places.
  local buf, client = open(dir .. "/trusted/ledger.omega")
  local uri = vim.uri_from_bufnr(buf)
  check("filetype omega for .omega files", vim.bo[buf].filetype == "omega", vim.bo[buf].filetype)
  if not check("omega-lsp attached through vim.lsp.start (root: omega.toml folder)",
      client ~= nil and client.config.root_dir == dir .. "/trusted",
      client and client.config.root_dir or "no client") then
    return
  end
  vim.wait(15000, function()
    return find_deadlock(buf) ~= nil
  end, 20)
  local d = find_deadlock(buf)
  check("deadlock warning omega::deadlock-order at line 13",
    d ~= nil and d.lnum == 12 and d.severity == vim.diagnostic.severity.WARN
      and d.message:find("possible deadlock", 1, true) ~= nil,
    d and (d.lnum + 1 .. ": " .. d.message) or vim.inspect(vim.diagnostic.get(buf)))
  local related = d and d.user_data and d.user_data.lsp and d.user_data.lsp.relatedInformation or {}
  local other_order = false
  for _, r in ipairs(related) do
    if r.location.uri == uri and r.location.range.start.line == 8 then
      other_order = true
    end
  end
  check("deadlock warning's related place: the opposite order at line 9", other_order, vim.inspect(related))

  -- :write runs the file (trusted): the answer appears inline.
  local before = requests_seen(fast_url)
  local n = #events
  vim.cmd("write")
  local done = wait_status(uri, "done", n, 15000)
  check("evalStatus done after :write", done ~= nil, vim.inspect(events))
  local label
  vim.wait(5000, function()
    for _, l in ipairs(hint_labels(buf)) do
      if l:find("Reply: What is 2+2?", 1, true) then
        label = l
        return true
      end
    end
    return false
  end, 20)
  check("inline answer (inlay hint) after :write", label ~= nil, vim.inspect(hint_labels(buf)))
  check("the answer came from the LLM server (1 request)", requests_seen(fast_url) == before + 1,
    ("requests %d -> %d"):format(before, requests_seen(fast_url)))

  -- Hover on the call shows the full answer.
  local row = 15
  local text = vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1]
  local col = text:find("infer.op", 1, true)
  local hover = vim.lsp.buf_request_sync(buf, "textDocument/hover", {
    textDocument = { uri = uri },
    position = { line = row, character = col },
  }, 5000)
  local hover_text = ""
  for _, r in pairs(hover or {}) do
    if r.result and r.result.contents then
      local c = r.result.contents
      hover_text = hover_text .. (type(c) == "string" and c or c.value or vim.inspect(c))
    end
  end
  check("hover on the infer.op call shows its answer", hover_text:find("Reply: What is 2+2?", 1, true) ~= nil,
    hover_text ~= "" and hover_text or "no hover")

  -- :OmegaRun: a second run, answered from the cache; output in the scratch buffer.
  before = requests_seen(fast_url)
  n = #events
  vim.cmd("OmegaRun")
  check(":OmegaRun reports running", wait_status(uri, "running", n, 10000) ~= nil)
  check(":OmegaRun finishes (evalStatus done)", wait_status(uri, "done", n, 15000) ~= nil, vim.inspect(events[#events]))
  check("the re-run asked the LLM server nothing (cached)", requests_seen(fast_url) == before,
    ("requests %d -> %d"):format(before, requests_seen(fast_url)))
  vim.cmd("OmegaOutput")
  local out_buf = vim.fn.bufnr("omega://output")
  local output = out_buf ~= -1 and table.concat(vim.api.nvim_buf_get_lines(out_buf, 0, -1, false), "\n") or ""
  check(":OmegaOutput shows the program's output",
    output:find("clerk 1 posted", 1, true) ~= nil and output:find("Reply: What is 2+2?", 1, true) ~= nil
      and #vim.fn.win_findbuf(out_buf) > 0, output)
  vim.cmd("wincmd p")

  -- :OmegaRunForm on the (define answer …) line.
  vim.api.nvim_set_current_buf(buf)
  vim.api.nvim_win_set_cursor(0, { 16, 3 })
  n = #events
  local ran, result = run_command(omega.run_form)
  check(":OmegaRunForm starts a run", ran and result and result.started == true, vim.inspect(result))
  check(":OmegaRunForm finishes", wait_status(uri, "done", n, 15000) ~= nil)

  -- :OmegaExplore on the deadlock warning: reproduced with a seed, a Replay lens, no request.
  before = requests_seen(fast_url)
  vim.api.nvim_win_set_cursor(0, { 13, 0 })
  local explored, started_explore = run_command(omega.explore)
  check(":OmegaExplore starts an exploration", explored and started_explore and started_explore.started == true,
    vim.inspect(started_explore))
  local reproduced
  vim.wait(15000, function()
    reproduced = find_deadlock(buf)
    return reproduced ~= nil and reproduced.message:find("reproduced with seed", 1, true) ~= nil
  end, 20)
  local seed = reproduced and reproduced.message:match("reproduced with seed (%d+)")
  check(":OmegaExplore: the warning says reproduced with seed S", seed ~= nil, reproduced and reproduced.message)
  local lens_title
  vim.wait(5000, function()
    for _, l in ipairs(vim.lsp.codelens.get(buf)) do
      if l.command and l.command.title == ("▶ Replay seed %s"):format(seed) then
        lens_title = l.command.title
        return true
      end
    end
    return false
  end, 20)
  check("code lenses refreshed: ▶ Replay seed S", lens_title ~= nil, vim.inspect(vim.lsp.codelens.get(buf)))
  check("exploring asked the LLM server nothing", requests_seen(fast_url) == before,
    ("requests %d -> %d"):format(before, requests_seen(fast_url)))

  local ok_clear, cleared = run_command(omega.clear_cache)
  check(":OmegaClearCache clears the cache", ok_clear and cleared and cleared.cleared == true, vim.inspect(cleared))

  -- :OmegaCancel while a slow LLM server holds the call.
  omega.setup({ trusted = { dir .. "/slow" }, settings = settings(slow_url, dir .. "/cache-slow") })
  local slow_buf, slow_client = open(dir .. "/slow/ledger.omega")
  local slow_uri = vim.uri_from_bufnr(slow_buf)
  check("a second project gets its own server", slow_client ~= nil and slow_client.id ~= client.id)
  n = #events
  vim.cmd("OmegaRun")
  local running = wait_status(slow_uri, "running", n, 10000)
  vim.wait(10000, function()
    return requests_seen(slow_url) >= 1
  end, 50)
  check("the slow run is waiting on the LLM server", running ~= nil and requests_seen(slow_url) == 1)
  vim.cmd("OmegaCancel")
  local cancelled = wait_status(slow_uri, "cancelled", n, 5000)
  check(":OmegaCancel cancels the run (evalStatus cancelled) while the LLM call is in flight",
    cancelled ~= nil, vim.inspect(events[#events]))

  -- Untrusted folder: analysis, but nothing reaches the LLM server.
  omega.setup({ trusted = { dir .. "/trusted" }, settings = settings(fast_url, dir .. "/cache-untrusted") })
  local u_buf = open(dir .. "/untrusted/ledger.omega")
  local u_uri = vim.uri_from_bufnr(u_buf)
  vim.wait(15000, function()
    return find_deadlock(u_buf) ~= nil
  end, 20)
  check("untrusted folder: analysis still reports the deadlock", find_deadlock(u_buf) ~= nil)
  before = requests_seen(fast_url)
  n = #events
  vim.cmd("write")
  local u_ran, u_result = run_command(omega.run_file)
  check("untrusted folder: :OmegaRun is refused", u_ran and u_result and u_result.started == false,
    vim.inspect(u_result))
  local started = false
  for i = n + 1, #events do
    started = started or events[i].uri == u_uri
  end
  check("untrusted folder: no run started, no request reached the LLM server",
    not started and requests_seen(fast_url) == before,
    ("requests %d -> %d"):format(before, requests_seen(fast_url)))

  -- Indentation: Vim's Lisp indenting with the plugin's 'lispwords' gives what `omega fmt`
  -- gives; Neovim 0.11's client has no onTypeFormatting, so this is what Enter does.
  local t_buf, t_client = open(dir .. "/untrusted/typing.omega")
  vim.api.nvim_buf_set_lines(t_buf, 0, -1, false, { "(define (g x)" })
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes("o(h x)<Esc>", true, false, true), "xt", false)
  local typed = vim.api.nvim_buf_get_lines(t_buf, 1, 2, false)[1] or ""
  check("typing o after (define (g x) indents the new line 2 columns", typed == "  (h x)", vim.inspect(typed))
  local flush_left = { "(define (g x)", "(let ((a 1)", "(b 2))", "(when (> a x)", "(foo a", "b))",
    "(handle (effect infer.op \"q\")", "(on infer.op (p k)", "(k 1)))))" }
  vim.api.nvim_buf_set_lines(t_buf, 0, -1, false, flush_left)
  vim.cmd("normal! gg=G")
  local indented = vim.api.nvim_buf_get_lines(t_buf, 0, -1, false)
  local formatted = vim.lsp.buf_request_sync(t_buf, "textDocument/formatting", {
    textDocument = { uri = vim.uri_from_bufnr(t_buf) },
    options = { tabSize = 2, insertSpaces = true },
  }, 5000)
  local server_edits
  for _, r in pairs(formatted or {}) do
    server_edits = r.result
  end
  check("= re-indents as omega fmt: the server's formatting changes nothing after it",
    t_client ~= nil and server_edits ~= nil and #server_edits == 0
      and indented[3] == "        (b 2))" and indented[6] == "           b))"
      and indented[8] == "      (on infer.op (p k)" and indented[9] == "        (k 1)))))",
    vim.inspect({ lines = indented, server = server_edits }))
  vim.api.nvim_buf_set_lines(t_buf, 0, -1, false, {})
  vim.bo[t_buf].modified = false

  -- A server command that names no executable: an error that says how to fix it.
  local notified = {}
  local notify = vim.notify
  vim.notify = function(msg, level)
    table.insert(notified, { msg = msg, level = level })
  end
  vim.fn.mkdir(dir .. "/missing", "p")
  omega.setup({ cmd = { dir .. "/no-such-omega-lsp" } })
  vim.cmd.edit(vim.fn.fnameescape(dir .. "/missing/empty.omega"))
  vim.notify = notify
  local message = notified[1] and notified[1].msg or ""
  check("a missing server: an error naming it and how to get one",
    notified[1] ~= nil and notified[1].level == vim.log.levels.ERROR and message:find("no-such-omega-lsp", 1, true) ~= nil
      and message:find("cargo build", 1, true) ~= nil and #vim.lsp.get_clients({ bufnr = 0 }) == 0,
    message)

  -- Tree-sitter: the parser built from grammar/src and the shipped queries.
  local lang_ok = pcall(vim.treesitter.language.add, "omega")
  local parser_ok, parser = pcall(vim.treesitter.get_parser, buf, "omega")
  local tree = parser_ok and parser:parse()[1]
  local query_ok, query = pcall(vim.treesitter.query.get, "omega", "highlights")
  local captures = 0
  if tree and query_ok and query then
    for _ in query:iter_captures(tree:root(), buf) do
      captures = captures + 1
    end
  end
  check("tree-sitter parser and queries/omega/highlights.scm load and highlight",
    lang_ok and tree ~= nil and not tree:root():has_error() and captures > 20,
    ("language %s, tree %s, query %s, captures %d"):format(tostring(lang_ok), tostring(tree ~= nil),
      tostring(query_ok), captures))
  table.insert(lines, "done: every step ran")
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  check("the test script ran to the end", false, err)
end
local f = assert(io.open(vim.env.OMEGA_TEST_RESULTS, "w"))
f:write(table.concat(lines, "\n") .. "\n")
f:close()
for _, c in ipairs(vim.lsp.get_clients()) do
  c:stop(true)
end
vim.cmd("qa!")
