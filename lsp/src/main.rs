//! `omega-lsp`: the OmegaLLM language server, speaking LSP over stdin/stdout.

use std::fs::{File, OpenOptions};
use std::process::ExitCode;

use omega_lsp::log;

/// mimalloc, counting each thread's live bytes: each run's memory budget is its evaluation
/// thread's growth.
#[global_allocator]
static ALLOCATOR: omega_eval::memory::CountingAlloc<mimalloc::MiMalloc> =
    omega_eval::memory::CountingAlloc(mimalloc::MiMalloc);

const HELP: &str = "\
omega-lsp: the OmegaLLM language server. Editors start it and speak LSP over stdin/stdout.

Usage: omega-lsp [--log FILE]

Options:
  --log FILE     append the server's log to FILE instead of writing it to stderr
  --stdio        speak over stdin/stdout (the default; accepted for clients that pass it)
  --version      print the version and exit
  -h, --help     print this help and exit

Environment:
  OMEGA_LOG      how much to log: error, warn (default), info or debug
                   warn   handlers slower than 100 ms, internal errors
                   info   also each analysis and each run (state, LLM calls, time)
                   debug  also every message handled, with its duration
                 The log holds method names, document URIs, counts and durations, never
                 document text, settings or API keys.
";

/// What the command line asks for.
enum Command {
    Serve { log_file: Option<String> },
    Print(String),
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut log_file = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--version" | "-V" => return Ok(Command::Print(format!("omega-lsp {}\n", env!("CARGO_PKG_VERSION")))),
            "-h" | "--help" => return Ok(Command::Print(HELP.to_string())),
            "--stdio" => {}
            "--log" => log_file = Some(args.next().ok_or("--log needs a file name: omega-lsp --log FILE")?),
            _ => match arg.strip_prefix("--log=") {
                Some(file) => log_file = Some(file.to_string()),
                None => return Err(format!("unknown argument `{arg}`; see omega-lsp --help")),
            },
        }
    }
    Ok(Command::Serve { log_file })
}

fn open_log(path: &str) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open the log file {path}: {e}; give a writable path to --log"))
}

fn main() -> ExitCode {
    let log_file = match parse(std::env::args().skip(1)) {
        Ok(Command::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Serve { log_file }) => log_file,
        Err(message) => {
            eprintln!("omega-lsp: {message}");
            return ExitCode::from(2);
        }
    };
    let file = match log_file.as_deref().map(open_log).transpose() {
        Ok(file) => file,
        Err(message) => {
            eprintln!("omega-lsp: {message}");
            return ExitCode::from(2);
        }
    };
    let (level, unknown_level) = log::level_from_env();
    log::init(level, file);
    // A panic's message may quote the document (a slicing panic does): the log keeps where
    // it happened, and the handler that catches it sends the message to the client's log.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())).unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
        log::error(format_args!("panic at {at} in thread {thread}"));
    }));
    if unknown_level {
        log::warn(format_args!("OMEGA_LOG is not one of error, warn, info, debug: logging at warn"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("omega-lsp")
        // Formatting and dropping syntax nested to the reader's depth limit recurse; 2 MiB (the
        // default) is barely enough in a debug build. Untouched stack costs no memory.
        .thread_stack_size(16 << 20)
        .enable_all()
        .build()
        .expect("start the async runtime");
    runtime.block_on(omega_lsp::serve_stdio());
    log::info(format_args!("exit"));
    // Runs and analyses still going must not hold up `exit`: end the process now.
    std::process::exit(0);
}
