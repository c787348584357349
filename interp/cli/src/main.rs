//! `omega`: run, evaluate, explore, check and format OmegaLLM programs.

use std::cell::RefCell;
use std::io::{self, BufRead, IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use omega::monitor::{Monitor, StatusLine};
use omega_eval::error::ErrorKind;
use omega_eval::printer::write_string;
use omega_eval::value::Value;
use omega_eval::CancelToken;
use omega_eval::Limits;
use omega_eval::Output;
use omega_eval::Session;
use omega_llm::config::{LlmConfig, LlmOverrides};
use omega_llm::Runtime;

/// mimalloc, counting each thread's live bytes for the memory budget of a run.
#[global_allocator]
static ALLOCATOR: omega_eval::memory::CountingAlloc<mimalloc::MiMalloc> =
    omega_eval::memory::CountingAlloc(mimalloc::MiMalloc);

const USAGE: &str =
    "usage: omega run FILE | eval 'EXPR…' | repl | check [--format human|json] FILE… | fmt [--check] FILE…
       | explore [--schedules N] [--seed S] [--live] [--format human|json] FILE
flags: --adapter NAME --model NAME --no-cache --offline --max-llm-calls N --max-in-flight N
       --timeout SECS --max-steps N --max-memory MB (default 512; 0: no limit) --schedule SEED
       --stand-ins --stats[=json] --quiet";

/// `omega --help`: every command and flag with what it does (docs/language.md has the language).
const HELP: &str = "omega — run, check and format OmegaLLM programs

usage: omega COMMAND [FLAGS] ARGS

commands:
  run FILE          run a program; results of LLM calls are cached
  eval 'EXPR…'      evaluate expressions and print the value of the last
  repl              read-eval-print loop (Ctrl-C cancels the form running, Ctrl-D leaves)
  check FILE…       static analysis: syntax, unbound names, arity, deadlocks, races
  fmt FILE…         format files in place (--check: only report files that would change)
  explore FILE      run under many schedules and report each deadlock, race or
                    schedule-dependent outcome once, with the seed that replays it
  help, --help      this text;  --version: the version

flags:
  --format human|json  how check and explore report (default human)
  --check              fmt: change nothing, exit 1 if a file is not formatted
  --adapter NAME       LLM provider: openai, anthropic, scripted or none (env OMEGA_ADAPTER)
  --model NAME         model sent to the provider (env OMEGA_MODEL)
  --no-cache           neither read nor write the LLM answer cache
  --offline            answers from the cache only: a miss is an error
  --max-llm-calls N    LLM calls a run may make
  --max-in-flight N    LLM requests at once (default 32)
  --timeout SECS       wall-clock limit of the whole run (default none)
  --max-steps N        evaluation steps a run may take
  --max-memory MB      memory a run may allocate (default 512; 0: no limit)
  --schedule SEED      deterministic interleaving of parallel tasks (replays a seed)
  --stand-ins          answers without a cached or scripted one are stand-ins (as explore)
  --stats[=json]       after the run, a summary of LLM calls, tokens, time and memory on stderr
  --quiet              no live status line on a terminal
  --schedules N        explore: how many schedules (default 1000)
  --seed S             explore: the first schedule's seed (default 0)
  --live               explore: real LLM calls instead of stand-ins (costs money)

Configuration: flags > omega.toml (nearest) > environment > defaults; see README.md.";

/// Exit code 2 with a message: bad usage or an unreadable file.
struct Usage(String);

#[derive(Default)]
struct Flags {
    llm: LlmOverrides,
    timeout: Option<f64>,
    max_steps: Option<u64>,
    /// `--max-memory MB`: `Some(0)` lifts the limit.
    max_memory_mb: Option<u64>,
    schedule: Option<u64>,
    format_json: bool,
    check_only: bool,
    /// `--stats` (human) or `--stats=json`: a summary of the run on stderr.
    stats: Option<StatsFormat>,
    /// `--quiet`: no live status line.
    quiet: bool,
    /// `--stand-ins`: LLM answers from the cache or a script, else stand-ins (as `omega explore`).
    stand_ins: bool,
    /// `omega explore --schedules N`.
    schedules: Option<u64>,
    /// `omega explore --seed S`.
    seed: Option<u64>,
    /// `omega explore --live`: real LLM calls.
    live: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum StatsFormat {
    Human,
    Json,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Evaluation never recurses deeply on the host stack, but expansion of deeply nested
    // source does; give it room.
    let worker = std::thread::Builder::new().stack_size(256 << 20).spawn(move || run(args));
    match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        _ => {
            eprintln!("omega: internal error");
            ExitCode::from(70)
        }
    }
}

fn run(args: Vec<String>) -> ExitCode {
    match dispatch(args) {
        Ok(code) => code,
        Err(Usage(msg)) => {
            eprintln!("omega: {msg}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(args: Vec<String>) -> Result<ExitCode, Usage> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{HELP}");
        return Ok(ExitCode::SUCCESS);
    }
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("omega {}", env!("CARGO_PKG_VERSION"));
        return Ok(ExitCode::SUCCESS);
    }
    let (command, rest) = args.split_first().ok_or_else(|| Usage(USAGE.into()))?;
    let (flags, operands) = parse_flags(rest)?;
    match command.as_str() {
        "run" => match operands.as_slice() {
            [file] => run_file(Path::new(file), &flags),
            _ => Err(Usage("usage: omega run FILE".into())),
        },
        "eval" => {
            if operands.is_empty() {
                return Err(Usage("usage: omega eval 'EXPR…'".into()));
            }
            eval_text(&operands.join(" "), &flags)
        }
        "repl" => repl(&flags),
        "check" => check(&operands, &flags),
        "fmt" => fmt(&operands, &flags),
        "explore" => match operands.as_slice() {
            [file] => explore(Path::new(file), &flags),
            _ => {
                Err(Usage("usage: omega explore [--schedules N] [--seed S] [--live] [--format human|json] FILE".into()))
            }
        },
        "help" => {
            println!("{HELP}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(Usage(format!("unknown command {other}\n{USAGE}"))),
    }
}

fn parse_flags(args: &[String]) -> Result<(Flags, Vec<String>), Usage> {
    let mut f = Flags::default();
    let mut operands = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| Usage(format!("{name} needs a value")));
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, Usage> {
            v.parse().map_err(|_| Usage(format!("{name}: not a valid number: {v}")))
        }
        match a.as_str() {
            "--adapter" => f.llm.adapter = Some(value(a)?),
            "--model" => f.llm.model = Some(value(a)?),
            "--no-cache" => f.llm.no_cache = true,
            "--offline" => f.llm.offline = true,
            "--max-llm-calls" => f.llm.max_llm_calls = Some(num(a, value(a)?)?),
            "--max-in-flight" => f.llm.max_in_flight = Some(num(a, value(a)?)?),
            "--timeout" => {
                let secs = num(a, value(a)?)?;
                omega_eval::check_timeout(secs).map_err(|e| Usage(format!("--timeout: {e}")))?;
                f.timeout = Some(secs);
            }
            "--max-memory" => f.max_memory_mb = Some(num(a, value(a)?)?),
            "--max-steps" => f.max_steps = Some(num(a, value(a)?)?),
            "--schedule" => f.schedule = Some(num(a, value(a)?)?),
            "--format" => match value(a)?.as_str() {
                "json" => f.format_json = true,
                "human" => f.format_json = false,
                other => return Err(Usage(format!("--format: expected human or json, got {other}"))),
            },
            "--check" => f.check_only = true,
            "--stats" | "--stats=human" => f.stats = Some(StatsFormat::Human),
            "--stats=json" => f.stats = Some(StatsFormat::Json),
            "--quiet" => f.quiet = true,
            "--stand-ins" => f.stand_ins = true,
            "--live" => f.live = true,
            "--schedules" => f.schedules = Some(num(a, value(a)?)?),
            "--seed" => f.seed = Some(num(a, value(a)?)?),
            s if s.starts_with("--") => return Err(Usage(format!("unknown flag {s}\n{USAGE}"))),
            _ => operands.push(a.clone()),
        }
    }
    Ok((f, operands))
}

/// Program output: buffered stdout that remembers whether the last line was finished.
struct Stdout {
    out: io::BufWriter<io::Stdout>,
    at_line_start: Rc<RefCell<bool>>,
    interactive: bool,
    /// The live line on stderr, moved out of the way of output to the same terminal.
    status: Option<StatusLine>,
    /// The first write error (a closed pipe, a full disk); nothing is written after it.
    failed: Option<io::Error>,
}

impl Output for Stdout {
    fn write_str(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if self.failed.is_some() {
            return;
        }
        *self.at_line_start.borrow_mut() = text.ends_with('\n');
        let (out, interactive) = (&mut self.out, self.interactive);
        let mut write = || {
            out.write_all(text.as_bytes())?;
            // The REPL prints its prompt straight to stdout, and a status line shares the
            // terminal: program output must be out first.
            if interactive {
                out.flush()?;
            }
            Ok(())
        };
        let written: io::Result<()> = match &self.status {
            Some(status) => status.suspend(write),
            None => write(),
        };
        self.failed = written.err();
    }

    fn failure(&mut self) -> Option<String> {
        let e = self.failed.as_ref()?;
        Some(format!("cannot write to stdout: {e}"))
    }

    fn flush(&mut self) -> Option<String> {
        if self.failed.is_none() {
            self.failed = self.out.flush().err();
        }
        self.failure()
    }
}

impl Drop for Stdout {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// Stdout as the session's output; the flag says whether the last line was finished.
fn stdout(interactive: bool, status: Option<StatusLine>) -> (Box<dyn Output>, Rc<RefCell<bool>>) {
    let flag = Rc::new(RefCell::new(true));
    // With a status line on the terminal, output is flushed as it is written, so the two interleave.
    let interactive = interactive || status.is_some();
    let out = Stdout {
        out: io::BufWriter::new(io::stdout()),
        at_line_start: flag.clone(),
        interactive,
        status,
        failed: None,
    };
    (Box::new(out), flag)
}

fn flush_stdout() {
    let _ = io::stdout().flush();
}

/// A session configured from flags, `omega.toml` near `start`, and the environment, with its
/// output on stdout and its LLM calls watched by the returned monitor.
fn session(start: Option<&Path>, flags: &Flags, interactive: bool) -> Result<Running, Usage> {
    let config = LlmConfig::resolve(start, &flags.llm).map_err(|e| Usage(e.to_string()))?;
    let runtime = Runtime::new(&config).map_err(|e| Usage(e.message))?;
    let status = StatusLine::for_stderr(flags.quiet);
    let (out, at_line_start) = stdout(interactive, status.clone());
    let monitor = Rc::new(RefCell::new(Monitor::new(status)));
    let watcher = monitor.clone();
    let mut s = if flags.stand_ins {
        runtime.stand_in_session(out, flags.schedule.unwrap_or(0)).0
    } else {
        runtime.observed_session(out, move |event| watcher.borrow_mut().record(&event))
    };
    let mut limits = Limits { max_steps: flags.max_steps, timeout_secs: flags.timeout, ..Limits::default() };
    if let Some(mb) = flags.max_memory_mb {
        limits.memory = (mb > 0).then(|| mb.saturating_mul(1 << 20));
    }
    s.set_limits(limits);
    if let Some(seed) = flags.schedule {
        s.set_schedule(seed);
    }
    Ok(Running { session: s, monitor, at_line_start })
}

/// A configured session, the monitor of its LLM calls, and whether its output ended a line.
struct Running {
    session: Session,
    monitor: Rc<RefCell<Monitor>>,
    at_line_start: Rc<RefCell<bool>>,
}

impl Running {
    /// Clears the status line and, with `--stats`, prints the summary on stderr.
    fn report(&self, flags: &Flags) {
        let monitor = self.monitor.borrow();
        monitor.clear();
        if let Some(format) = flags.stats {
            flush_stdout();
            eprintln!("{}", monitor.summary(format == StatsFormat::Json));
        }
    }
}

fn read_file(path: &Path) -> Result<String, Usage> {
    let bytes = std::fs::read(path).map_err(|e| Usage(format!("cannot read {}: {e}", path.display())))?;
    String::from_utf8(bytes).map_err(|e| {
        let (line, col, byte) = invalid_utf8_at(e.as_bytes(), e.utf8_error().valid_up_to());
        Usage(format!("{}:{line}:{col}: invalid UTF-8 (byte 0x{byte:02x}); save the file as UTF-8", path.display()))
    })
}

/// The 1-based line and column (in characters) of the first invalid byte, and the byte.
fn invalid_utf8_at(bytes: &[u8], valid_up_to: usize) -> (usize, usize, u8) {
    let valid = std::str::from_utf8(&bytes[..valid_up_to]).unwrap_or_default();
    let line = valid.matches('\n').count() + 1;
    let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col, bytes[valid_up_to])
}

fn run_file(path: &Path, flags: &Flags) -> Result<ExitCode, Usage> {
    let text = read_file(path)?;
    let mut running = session(Some(path), flags, false)?;
    let s = &mut running.session;
    let name = path.display().to_string();
    let mut failed = None;
    let outcome = s.run_source(&name, &text, |s, r| match r.result {
        Ok(_) => ControlFlow::Continue(()),
        Err(e) => {
            failed = Some(failure(s, &e));
            ControlFlow::Break(())
        }
    });
    let failed = failed.or_else(|| unwritten(s, &name));
    running.report(flags);
    finish(&name, &text, outcome.map(|_| ()), failed)
}

/// Flushes the program's output at the end of a run: a failure to write it (a full disk)
/// fails the run, which otherwise looks as if it succeeded.
fn unwritten(s: &mut Session, name: &str) -> Option<(u8, String)> {
    s.flush_output().map(|message| (1, format!("{name}: error: {message}")))
}

/// How an evaluation error ends the program: `(exit N)` with code N and nothing on stderr,
/// any other error with code 1 and its message.
fn failure(s: &Session, e: &omega_eval::error::Error) -> (u8, String) {
    match e.kind {
        ErrorKind::Exit(code) => (u8::try_from(code).unwrap_or(1), String::new()),
        _ => (1, s.format_error(e)),
    }
}

/// Reports reader errors or the evaluation's failure on stderr; the exit code.
fn finish(
    name: &str,
    text: &str,
    read: Result<(), Vec<omega_syntax::reader::SyntaxError>>,
    failed: Option<(u8, String)>,
) -> Result<ExitCode, Usage> {
    if let Err(errors) = read {
        let src = omega_syntax::syntax::SourceFile::new(name, text);
        flush_stdout();
        for e in &errors {
            eprintln!("{}", Session::format_syntax_error(&src, e));
        }
        return Ok(ExitCode::from(1));
    }
    if let Some((code, msg)) = failed {
        flush_stdout();
        if !msg.is_empty() {
            eprintln!("{msg}");
        }
        return Ok(ExitCode::from(code));
    }
    Ok(ExitCode::SUCCESS)
}

fn eval_text(text: &str, flags: &Flags) -> Result<ExitCode, Usage> {
    let mut running = session(None, flags, false)?;
    let (s, at_line_start) = (&mut running.session, running.at_line_start.clone());
    let mut last = Value::Unspecified;
    let mut failed = None;
    let outcome = s.run_source("<eval>", text, |s, r| match r.result {
        Ok(v) => {
            last = v;
            ControlFlow::Continue(())
        }
        Err(e) => {
            failed = Some(failure(s, &e));
            ControlFlow::Break(())
        }
    });
    if outcome.is_ok() && failed.is_none() && !matches!(last, Value::Unspecified) {
        let mut line = String::new();
        if !*at_line_start.borrow() {
            line.push('\n');
        }
        line.push_str(&write_string(&last));
        line.push('\n');
        s.write_output(&line);
    }
    let failed = failed.or_else(|| unwritten(s, "<eval>"));
    running.report(flags);
    let code = finish("<eval>", text, outcome.map(|_| ()), failed);
    drop(running);
    code
}

fn repl(flags: &Flags) -> Result<ExitCode, Usage> {
    let running = session(None, flags, true)?;
    let (mut s, at_line_start, monitor) = (running.session, running.at_line_start, running.monitor);
    let interrupt = Interrupt::install(s.cancel_token());
    let mut input = ReplInput::new();
    let mut pending = String::new();
    let mut n = 0;
    loop {
        let prompt = if pending.is_empty() { "Ω> " } else { ".. " };
        if pending.is_empty() && !*at_line_start.borrow() {
            // Output without a final newline: start the prompt on a line of its own.
            s.write_output("\n");
        }
        flush_stdout();
        let Some(line) = input.read(prompt) else { break };
        let Some(line) = line else {
            pending.clear();
            continue;
        };
        pending.push_str(&line);
        pending.push('\n');
        let parsed = omega_syntax::reader::read(&pending);
        if parsed.errors.iter().any(|e| e.message.starts_with("unclosed") || e.message.starts_with("unterminated")) {
            continue;
        }
        let text = std::mem::take(&mut pending);
        input.remember(text.trim_end());
        n += 1;
        // Each form's result is printed right after the output it made. Ctrl-C while the
        // input runs cancels it (and its LLM calls); the session keeps its definitions.
        let mut exit = None;
        s.cancel_token().reset();
        interrupt.arm(true);
        let outcome = s.run_source(&format!("<repl:{n}>"), &text, |s, r| {
            let line = match r.result {
                Ok(Value::Unspecified) => return ControlFlow::Continue(()),
                Err(e) if matches!(e.kind, ErrorKind::Exit(_)) => {
                    exit = Some(failure(s, &e).0);
                    return ControlFlow::Break(());
                }
                Ok(v) => format!("=> {}", write_string(&v)),
                Err(e) => format!("error: {}", e.message),
            };
            let fresh_line = if *at_line_start.borrow() { "" } else { "\n" };
            s.write_output(&format!("{fresh_line}{line}\n"));
            ControlFlow::Continue(())
        });
        interrupt.arm(false);
        monitor.borrow().clear();
        if let Err(errors) = outcome {
            for e in errors {
                s.write_output(&format!("error: {}\n", e.message));
            }
        }
        if let Some(code) = exit {
            flush_stdout();
            input.save();
            return Ok(ExitCode::from(code));
        }
    }
    flush_stdout();
    input.save();
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C in the REPL: while an input runs it cancels that input; otherwise it ends the
/// process as usual (the line editor reads Ctrl-C as a key of its own at the prompt).
struct Interrupt {
    running: Arc<AtomicBool>,
}

impl Interrupt {
    fn install(cancel: CancelToken) -> Interrupt {
        let running = Arc::new(AtomicBool::new(false));
        let flag = running.clone();
        // Without a handler (another one is installed), Ctrl-C keeps its default meaning.
        let _ = ctrlc::set_handler(move || {
            if flag.load(Ordering::SeqCst) {
                cancel.cancel();
            } else {
                std::process::exit(130);
            }
        });
        Interrupt { running }
    }

    fn arm(&self, running: bool) {
        self.running.store(running, Ordering::SeqCst);
    }
}

/// REPL input: an editor with history on a terminal, plain lines otherwise.
enum ReplInput {
    Editor(Box<rustyline::DefaultEditor>, Option<PathBuf>),
    Plain(io::StdinLock<'static>),
}

impl ReplInput {
    fn new() -> ReplInput {
        if io::stdin().is_terminal() {
            if let Ok(mut editor) = rustyline::DefaultEditor::new() {
                let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".omega_history"));
                if let Some(h) = &history {
                    let _ = editor.load_history(h);
                }
                return ReplInput::Editor(Box::new(editor), history);
            }
        }
        ReplInput::Plain(io::stdin().lock())
    }

    /// The next line; `Some(None)` when Ctrl-C abandoned the line being typed; `None` at the end.
    fn read(&mut self, prompt: &str) -> Option<Option<String>> {
        match self {
            ReplInput::Editor(editor, _) => match editor.readline(prompt) {
                Ok(line) => Some(Some(line)),
                Err(rustyline::error::ReadlineError::Interrupted) => Some(None),
                Err(_) => None,
            },
            ReplInput::Plain(input) => loop {
                print!("{prompt}");
                flush_stdout();
                let mut line = Vec::new();
                if input.read_until(b'\n', &mut line).ok()? == 0 {
                    return None;
                }
                while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    line.pop();
                }
                match String::from_utf8(line) {
                    Ok(text) => return Some(Some(text)),
                    // Reported, and the session goes on with the next line.
                    Err(e) => {
                        let (_, col, byte) = invalid_utf8_at(e.as_bytes(), e.utf8_error().valid_up_to());
                        eprintln!("error: invalid UTF-8 at column {col} (byte 0x{byte:02x}); the line is skipped");
                    }
                }
            },
        }
    }

    fn remember(&mut self, entry: &str) {
        if let ReplInput::Editor(editor, _) = self {
            let _ = editor.add_history_entry(entry);
        }
    }

    fn save(&mut self) {
        if let ReplInput::Editor(editor, Some(h)) = self {
            let _ = editor.save_history(h);
        }
    }
}

fn check(files: &[String], flags: &Flags) -> Result<ExitCode, Usage> {
    if files.is_empty() {
        return Err(Usage("usage: omega check [--format human|json] FILE…".into()));
    }
    let mut any_error = false;
    let mut unreadable = false;
    let mut json = Vec::new();
    let mut human = String::new();
    for f in files {
        // A file that cannot be read is reported, and the others are still checked.
        let text = match read_file(Path::new(f)) {
            Ok(text) => text,
            Err(Usage(msg)) => {
                eprintln!("omega: {msg}");
                unreadable = true;
                continue;
            }
        };
        let diags = omega_analysis::check(&text);
        any_error |= diags.iter().any(|d| d.severity == omega_syntax::diagnostic::Severity::Error);
        let src = omega_syntax::syntax::SourceFile::new(f, &text);
        if flags.format_json {
            let uri = file_uri(Path::new(f));
            if let serde_json::Value::Array(items) = omega::json::to_json(&src, &uri, &diags) {
                json.extend(items);
            }
        } else {
            human.push_str(&omega_syntax::diagnostic::render_human(&src, &diags));
        }
    }
    let report = if flags.format_json { format!("{}\n", serde_json::Value::Array(json)) } else { human };
    if let Err(e) = write_stdout(&report) {
        eprintln!("omega: cannot write the report: {e}");
        return Ok(ExitCode::from(1));
    }
    Ok(worst_exit(unreadable, any_error))
}

/// Writes `text` to stdout; a closed or full stdout (`omega check … | head`) is an error to
/// report, not a panic.
fn write_stdout(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Exit code 2 if some file could not be read, else 1 if some file has errors, else 0.
fn worst_exit(unreadable: bool, failed: bool) -> ExitCode {
    match (unreadable, failed) {
        (true, _) => ExitCode::from(2),
        (false, true) => ExitCode::from(1),
        (false, false) => ExitCode::SUCCESS,
    }
}

fn file_uri(path: &Path) -> String {
    let abs: PathBuf = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    format!("file://{}", abs.display())
}

fn fmt(files: &[String], flags: &Flags) -> Result<ExitCode, Usage> {
    if files.is_empty() {
        return Err(Usage("usage: omega fmt [--check] FILE…".into()));
    }
    let mut changed = false;
    let mut failed = false;
    let mut unreadable = false;
    for f in files {
        let text = match read_file(Path::new(f)) {
            Ok(text) => text,
            Err(Usage(msg)) => {
                eprintln!("omega: {msg}");
                unreadable = true;
                continue;
            }
        };
        match omega_syntax::format::format(&text) {
            Ok(formatted) if formatted != text => {
                changed = true;
                if flags.check_only {
                    println!("{f}");
                } else {
                    std::fs::write(f, formatted).map_err(|e| Usage(format!("cannot write {f}: {e}")))?;
                }
            }
            Ok(_) => {}
            Err(e) => {
                let src = omega_syntax::syntax::SourceFile::new(f, &text);
                eprintln!("{}", Session::format_syntax_error(&src, &e));
                failed = true;
            }
        }
    }
    Ok(worst_exit(unreadable, failed || (flags.check_only && changed)))
}

fn explore(path: &Path, flags: &Flags) -> Result<ExitCode, Usage> {
    let text = read_file(path)?;
    let config = LlmConfig::resolve(Some(path), &flags.llm).map_err(|e| Usage(e.to_string()))?;
    let runtime = Runtime::new(&config).map_err(|e| Usage(e.message))?;
    let defaults = omega_explore::ExploreOptions::default();
    let options = omega_explore::ExploreOptions {
        schedules: flags.schedules.unwrap_or(defaults.schedules),
        seed: flags.seed.unwrap_or(defaults.seed),
        live: flags.live,
        max_steps: flags.max_steps.or(defaults.max_steps),
        timeout_secs: flags.timeout.or(defaults.timeout_secs),
    };
    if options.schedules == 0 {
        return Err(Usage("--schedules: needs at least 1".into()));
    }
    let report = omega_explore::explore(path, &text, &runtime, &options);
    if flags.format_json {
        println!("{}", omega::json::explore_report(&report, &file_uri(path)));
    } else {
        print!("{}", report.human());
    }
    Ok(if report.findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
