--- OmegaLLM for Neovim: the `omega` filetype, the omega-lsp language server, inline results,
--- commands to run, cancel and read a program's output, and to explore schedules for a
--- deadlock or race warning (code lenses show "▶ Replay seed S" when one is reproduced).
---
--- require("omega").setup({
---   trusted = { "~/src/agents" },      -- or true; elsewhere only analysis, never evaluation
---   settings = { llm = { adapter = "openai", model = "gpt-4o-mini" } },
--- })

local M = {}

local defaults = {
  -- The server command; nil means $OMEGA_LSP, else `omega-lsp` on PATH.
  cmd = nil,
  -- Folders (and everything below them) where buffers may be evaluated, or true for everywhere.
  trusted = {},
  -- The `omega` settings section (interfaces: eval.onSave, llm.*, limits.*), nested or dotted.
  settings = {},
  -- Show inline results (inlay hints) in omega buffers.
  inlay_hints = true,
  -- Show code lenses (Run, Cancel, Replay seed S) in omega buffers.
  code_lenses = true,
  -- Markers that make a folder the project root, nearest first in this order of preference.
  root_markers = { "omega.toml", ".git" },
}

M.config = vim.deepcopy(defaults)

-- The forms whose parts after the keyword are a body, indented 2 columns as `omega fmt` does:
-- Vim's 'lispwords' for omega buffers. Other lists line up under their first argument, as
-- Vim's Lisp indenting does anyway. The body forms of the table of forms
-- (interp/syntax/src/forms.rs); a tidy test (tests/e2e/forms.rs) keeps this list equal to it.
local LISPWORDS = {
  "define", "lambda", "let", "let*", "letrec", "letrec*", "begin", "case", "when", "unless", "do",
  "define-syntax", "let-syntax", "letrec-syntax", "syntax-rules", "handle", "parallel", "match", "guard",
  "define-record-type", "on", "return",
}

--- Last `omega/evalStatus` per document URI: { state, llmCalls, elapsedMs, version }.
M.status = {}

local OUTPUT_NAME = "omega://output"
local group = vim.api.nvim_create_augroup("omega", { clear = true })

local has_011 = vim.fn.has("nvim-0.11") == 1

local function client_request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

local function normalize(path)
  return (vim.fs.normalize(vim.fn.fnamemodify(vim.fn.expand(path), ":p")):gsub("/$", ""))
end

--- Whether evaluation may run for a project rooted at `root`.
function M.is_trusted(root)
  local trusted = M.config.trusted
  if trusted == true then
    return true
  end
  if type(trusted) ~= "table" or not root then
    return false
  end
  root = normalize(root)
  for _, dir in ipairs(trusted) do
    local d = normalize(dir)
    if root == d or root:sub(1, #d + 1) == d .. "/" then
      return true
    end
  end
  return false
end

--- The root of the project holding `bufnr`: the nearest omega.toml, else .git, else the file's folder.
function M.root_dir(bufnr)
  for _, marker in ipairs(M.config.root_markers) do
    local root = vim.fs.root(bufnr, marker)
    if root then
      return root
    end
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  return name ~= "" and vim.fs.dirname(name) or vim.fn.getcwd()
end

local function server_cmd()
  if M.config.cmd then
    return M.config.cmd
  end
  local env = vim.env.OMEGA_LSP
  if env and env ~= "" then
    return { env }
  end
  return { "omega-lsp" }
end

--- The `omega` settings for a project: the user's, with trust decided here.
function M.settings_for(root)
  local settings = vim.deepcopy(M.config.settings or {})
  settings.eval = settings.eval or {}
  settings.eval.trusted = M.is_trusted(root)
  return { omega = settings }
end

-- Output -------------------------------------------------------------------------------------

local function output_buffer()
  local buf = vim.fn.bufnr(OUTPUT_NAME)
  if buf ~= -1 and vim.api.nvim_buf_is_valid(buf) then
    return buf
  end
  buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(buf, OUTPUT_NAME)
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "hide"
  vim.bo[buf].swapfile = false
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, {})
  return buf
end

--- Appends program output to the scratch buffer, continuing an unfinished last line.
local function append_output(text)
  local buf = output_buffer()
  local lines = vim.split(text, "\n", { plain = true })
  local last = vim.api.nvim_buf_line_count(buf)
  local tail = vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1] or ""
  lines[1] = tail .. lines[1]
  vim.api.nvim_buf_set_lines(buf, last - 1, last, false, lines)
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(buf), 0 })
  end
end

function M.show_output()
  local buf = output_buffer()
  if #vim.fn.win_findbuf(buf) == 0 then
    vim.cmd("botright split")
    vim.api.nvim_win_set_buf(0, buf)
  end
end

local handlers = {
  ["omega/output"] = function(_, params)
    if params and params.text then
      append_output(params.text)
    end
  end,
  ["omega/evalStatus"] = function(_, params)
    if not params or not params.uri then
      return
    end
    M.status[params.uri] = params
    vim.api.nvim_exec_autocmds("User", { pattern = "OmegaEvalStatus", data = params })
    if params.state == "failed" then
      vim.notify(("omega: run of %s failed"):format(vim.uri_to_fname(params.uri)), vim.log.levels.WARN)
    end
  end,
}

--- A statusline component: the current buffer's run state, e.g. "Ω running (2 LLM calls)".
function M.statusline()
  local s = M.status[vim.uri_from_bufnr(0)]
  if not s then
    return ""
  end
  local calls = s.llmCalls and s.llmCalls > 0 and (" (%d LLM calls)"):format(s.llmCalls) or ""
  return ("Ω %s%s"):format(s.state, calls)
end

-- Server --------------------------------------------------------------------------------------

local function get_client(bufnr)
  return vim.lsp.get_clients({ bufnr = bufnr, name = "omega" })[1]
end

--- Starts (or reuses) the server for `bufnr`.
function M.start(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local root = M.root_dir(bufnr)
  local cmd = server_cmd()
  if vim.fn.executable(cmd[1]) ~= 1 then
    vim.notify(
      ("omega: cannot start the language server: %q is not an executable. "
        .. "Build it with `cargo build --release -p omega-lsp` and put target/release on PATH, "
        .. "set $OMEGA_LSP, or pass setup({ cmd = { '/path/to/omega-lsp' } })."):format(cmd[1]),
      vim.log.levels.ERROR
    )
    return nil
  end
  local settings = M.settings_for(root)
  return vim.lsp.start({
    name = "omega",
    cmd = cmd,
    root_dir = root,
    settings = settings,
    init_options = settings,
    handlers = handlers,
    on_attach = function(_, buf)
      if M.config.inlay_hints and vim.lsp.inlay_hint then
        vim.lsp.inlay_hint.enable(true, { bufnr = buf })
      end
      if M.config.code_lenses and vim.lsp.codelens then
        -- Lenses follow the diagnostics: an exploration's verdict brings "▶ Replay seed S".
        vim.lsp.codelens.refresh({ bufnr = buf })
        vim.api.nvim_create_autocmd({ "DiagnosticChanged", "BufEnter", "InsertLeave" }, {
          group = group,
          buffer = buf,
          callback = function()
            vim.lsp.codelens.refresh({ bufnr = buf })
          end,
        })
      end
    end,
  }, { bufnr = bufnr })
end

--- Runs `command` with `arguments` on the server attached to the current buffer.
local function execute(command, arguments, on_done)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = get_client(bufnr)
  if not client then
    vim.notify("omega: no language server is attached to this buffer (is it an .omega file?)", vim.log.levels.ERROR)
    return
  end
  client_request(client, "workspace/executeCommand", { command = command, arguments = arguments }, function(err, result)
    if err then
      vim.notify(("omega: %s failed: %s"):format(command, err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif result and result.started == false and result.message then
      vim.notify("omega: " .. result.message, vim.log.levels.WARN)
    end
    if on_done then
      on_done(err, result)
    end
  end, bufnr)
end

function M.run_file(on_done)
  execute("omega.runFile", { vim.uri_from_bufnr(0) }, on_done)
end

function M.run_form(on_done)
  local client = get_client(0)
  local encoding = client and client.offset_encoding or "utf-16"
  local position = vim.lsp.util.make_position_params(0, encoding).position
  execute("omega.runForm", { vim.uri_from_bufnr(0), position }, on_done)
end

function M.cancel(on_done)
  execute("omega.cancel", { vim.uri_from_bufnr(0) }, on_done)
end

function M.clear_cache(on_done)
  execute("omega.clearCache", {}, on_done)
end

local EXPLORABLE = { ["omega::deadlock-order"] = true, ["omega::self-deadlock"] = true, ["omega::race"] = true }

--- Explores schedules for the deadlock or race warning nearest the cursor: the warning then
--- says "reproduced with seed S" (with a "▶ Replay seed S" lens) or "not reproduced in N schedules".
function M.explore(on_done)
  local bufnr = vim.api.nvim_get_current_buf()
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local nearest, distance
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    local lsp = d.user_data and d.user_data.lsp
    if lsp and EXPLORABLE[lsp.code] and (not distance or math.abs(d.lnum - row) < distance) then
      nearest, distance = lsp, math.abs(d.lnum - row)
    end
  end
  if not nearest then
    vim.notify("omega: no deadlock or race warning in this buffer to explore", vim.log.levels.WARN)
    return
  end
  local data = nearest.data or {}
  local target = { code = nearest.code, locks = data.locks or {}, state = data.state }
  execute("omega.explore", { vim.uri_from_bufnr(bufnr), target }, on_done)
end

-- Setup ---------------------------------------------------------------------------------------

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  if opts and opts.trusted ~= nil then
    M.config.trusted = opts.trusted -- a list replaces, it does not merge with the default
  end

  vim.filetype.add({ extension = { omega = "omega" } })
  if vim.treesitter and vim.treesitter.language and vim.treesitter.language.register then
    pcall(vim.treesitter.language.register, "omega", "omega")
  end

  vim.api.nvim_clear_autocmds({ group = group })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = "omega",
    callback = function(args)
      vim.bo[args.buf].commentstring = "; %s"
      vim.bo[args.buf].lisp = true
      vim.bo[args.buf].lispwords = table.concat(LISPWORDS, ",")
      -- Lisp indentation aligns columns, so spaces, as `omega fmt` writes them.
      vim.bo[args.buf].expandtab = true
      vim.bo[args.buf].shiftwidth = 2
      M.start(args.buf)
    end,
  })

  local commands = {
    OmegaRun = { M.run_file, "Run the current .omega file in the language server" },
    OmegaRunForm = { M.run_form, "Run the top-level form under the cursor" },
    OmegaCancel = { M.cancel, "Cancel the current file's run" },
    OmegaClearCache = { M.clear_cache, "Forget cached LLM answers" },
    OmegaExplore = { M.explore, "Explore schedules for the deadlock or race warning nearest the cursor" },
    OmegaOutput = { M.show_output, "Show the output of runs in a scratch buffer" },
  }
  for name, spec in pairs(commands) do
    vim.api.nvim_create_user_command(name, function()
      spec[1]()
    end, { desc = spec[2] })
  end

  -- Buffers already open when setup runs.
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.api.nvim_buf_get_name(buf):match("%.omega$") then
      if vim.bo[buf].filetype ~= "omega" then
        vim.bo[buf].filetype = "omega"
      end
    end
  end
end

return M
