//! The `omega` binary, for tests that run the command line as users do.
//!
//! Cargo builds a package's own binaries for its tests, not a dependency's, so the first call
//! of [`omega_bin`] builds `omega` with the cargo that runs the tests, into the same target
//! directory and profile; `OMEGA_BIN` names a prebuilt binary instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The path of an up-to-date `omega` binary.
pub fn omega_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_bin("omega", "omega", "OMEGA_BIN"))
}

/// Builds binary `bin` of workspace package `package` into the test's target directory and
/// profile (or takes the prebuilt one the environment variable `env_override` names).
pub fn workspace_bin(package: &str, bin: &str, env_override: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_override) {
        return PathBuf::from(p);
    }
    // The test executable is TARGET/PROFILE/deps/NAME.
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("TARGET/PROFILE/deps").to_path_buf();
    let target_dir = profile_dir.parent().expect("TARGET/PROFILE").to_path_buf();
    let path = profile_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.current_dir(crate::repo_root()).args(["build", "--quiet", "-p", package, "--bin", bin, "--target-dir"]);
    build.arg(&target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            build.arg("--release");
        }
        Some(other) => {
            build.args(["--profile", other]);
        }
        None => {}
    }
    let status = build.status();
    if !matches!(status, Ok(s) if s.success()) {
        assert!(path.exists(), "building {bin} failed ({status:?}) and {} does not exist", path.display());
        eprintln!("warning: building {bin} failed ({status:?}); testing the existing {}", path.display());
    }
    path
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// The largest resident set size seen while it ran (Linux: `VmHWM`, sampled), in KiB.
    pub peak_rss_kib: Option<u64>,
}

impl Ran {
    /// Panics with the whole run unless it exited with `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Ran {
        assert_eq!(self.code, Some(code), "exit code; the run: {self:#?}");
        self
    }

    /// The first line of stderr.
    pub fn first_error_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or("")
    }
}

/// Runs `omega ARGS…` in `dir` with `stdin` as its input, killing it after `limit`.
pub fn omega_in(dir: &Path, args: &[&str], stdin: &str, limit: Duration) -> Ran {
    omega_in_env(dir, args, stdin, limit, &[])
}

/// [`omega_in`] with extra environment variables (set after the ones it clears). The user-level
/// configuration directory is `dir/.config`, so the machine's own never leaks into a test.
pub fn omega_in_env(dir: &Path, args: &[&str], stdin: &str, limit: Duration, env: &[(&str, &str)]) -> Ran {
    let start = Instant::now();
    let mut child = Command::new(omega_bin())
        .args(args)
        .current_dir(dir)
        // Keep the environment from choosing an LLM provider or a cache.
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OMEGA_ADAPTER")
        .env_remove("OMEGA_SCRIPT")
        .env("OMEGA_CACHE_DIR", dir.join(".omega-cache"))
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start omega");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    // Read both pipes on threads so a full pipe never blocks the child.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut s);
        s
    });
    let mut peak_rss_kib = None;
    let status = loop {
        if let Some(hwm) = peak_rss(child.id()) {
            peak_rss_kib = Some(hwm);
        }
        if let Some(status) = child.try_wait().expect("wait for omega") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("omega {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let _ = writer.join();
    let output =
        Output { status, stdout: out_reader.join().unwrap_or_default(), stderr: err_reader.join().unwrap_or_default() };
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed,
        peak_rss_kib,
    }
}

/// The peak resident set size of process `pid` so far, where the system tells it.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
