//! The server's own log, in the spirit of rust-analyzer's `RA_LOG`: one line per event with
//! the time since start, the level and the message, to stderr (which LSP clients show in
//! their output panel) or appended to the file given by `--log FILE`.
//!
//! The level comes from `OMEGA_LOG` (`error`, `warn`, `info`, `debug`; default `warn`):
//! - `warn`: handlers slower than [`SLOW_HANDLER`], internal errors;
//! - `info`: each analysis (version, time, diagnostics) and each run (start, end state, LLM
//!   calls, elapsed);
//! - `debug`: every handled message with its duration.
//!
//! What is logged: method names, document URIs and versions, counts and durations. Never
//! document text, setting values or anything read from the environment (API keys live
//! there); callers pass only such facts.
//!
//! A hand-written module rather than `tracing`: `tracing` is in Cargo.lock only through
//! tower-lsp-server, without a subscriber (`tracing-subscriber` would bring a filter
//! language and a formatter for four levels and a line format).

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Handlers slower than this are logged at `warn`.
pub const SLOW_HANDLER: Duration = Duration::from_millis(100);

/// How much to log; each level includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

impl Level {
    /// The level named by `OMEGA_LOG`'s value (case-insensitive).
    pub fn parse(name: &str) -> Option<Level> {
        match name.trim().to_ascii_lowercase().as_str() {
            "error" => Some(Level::Error),
            "warn" | "warning" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "debug" => Some(Level::Debug),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }
}

struct Logger {
    level: Level,
    start: Instant,
    /// `None`: stderr.
    file: Option<Mutex<File>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// The level `OMEGA_LOG` asks for, and whether its value was not a level (then `warn`).
pub fn level_from_env() -> (Level, bool) {
    match std::env::var("OMEGA_LOG") {
        Ok(v) if !v.trim().is_empty() => Level::parse(&v).map_or((Level::Warn, true), |l| (l, false)),
        _ => (Level::Warn, false),
    }
}

/// Starts the log at `level`, appending to `file` (else stderr). Only the first call counts.
pub fn init(level: Level, file: Option<File>) {
    let _ = LOGGER.set(Logger { level, start: Instant::now(), file: file.map(Mutex::new) });
}

fn logger() -> &'static Logger {
    LOGGER.get_or_init(|| Logger { level: level_from_env().0, start: Instant::now(), file: None })
}

/// Whether lines at `level` are written (to skip building costly messages).
pub fn enabled(level: Level) -> bool {
    level <= logger().level
}

/// Writes one line at `level`; line breaks in the message are escaped, so each event stays
/// one line.
pub fn write(level: Level, message: fmt::Arguments) {
    let logger = logger();
    if level > logger.level {
        return;
    }
    let elapsed = logger.start.elapsed().as_secs_f64();
    let text = message.to_string().replace('\r', "\\r").replace('\n', "\\n");
    let line = format!("{elapsed:>10.3}s {:<5} {text}\n", level.label());
    match &logger.file {
        Some(file) => {
            let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
            let _ = f.write_all(line.as_bytes());
        }
        None => {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

pub fn error(message: fmt::Arguments) {
    write(Level::Error, message)
}

pub fn warn(message: fmt::Arguments) {
    write(Level::Warn, message)
}

pub fn info(message: fmt::Arguments) {
    write(Level::Info, message)
}

pub fn debug(message: fmt::Arguments) {
    write(Level::Debug, message)
}

/// A duration as the log shows it: milliseconds with one decimal.
pub struct Millis(pub Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} ms", self.0.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Level::parse("DEBUG"), Some(Level::Debug));
        assert_eq!(Level::parse(" warn "), Some(Level::Warn));
        assert_eq!(Level::parse("verbose"), None);
        assert!(Level::Error < Level::Warn && Level::Info < Level::Debug);
    }

    #[test]
    fn durations_show_in_milliseconds() {
        assert_eq!(Millis(Duration::from_micros(153_240)).to_string(), "153.2 ms");
    }
}
