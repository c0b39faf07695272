//! Runs a command as a measured child process: wall time, peak resident memory and exit
//! status, under an address-space limit (the hostile-input suite, `cli/tests/hostile.rs`).
//!
//! The chain is `time -f %M -o FILE timeout -s KILL T prlimit --as=N -- PROGRAM ARGS`:
//! GNU `time` reaps its child with `wait4` and writes the peak resident set (`ru_maxrss`, which
//! includes the children that child reaped), `timeout` kills a hang, and `prlimit` sets
//! `RLIMIT_AS` and execs the program, so a runaway allocation fails inside the child instead of
//! taking the machine down. The measurement must not come from a direct child of the test
//! process: a child spawned from it inherits the test process's memory until `exec`, and Linux
//! folds that into the child's `ru_maxrss`; `time` is a small process, so its child starts clean.
//! Needs the Debian packages `time`, `coreutils` and `util-linux` (`.ci/run` installs them).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What one measured run produced.
#[derive(Debug)]
pub struct Measured {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
    /// Peak resident set size of the program, in bytes.
    pub peak_rss: u64,
}

impl Measured {
    /// The program's exit code (`timeout` reports a kill as 137).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn peak_mib(&self) -> f64 {
        self.peak_rss as f64 / (1024.0 * 1024.0)
    }
}

/// GNU time (not the shell keyword).
const TIME: &str = "/usr/bin/time";

/// Runs `program ARGS` with its address space capped at `max_address_space` bytes and its wall
/// time at `timeout` (killed past it), capturing its output. `report` is a scratch file for
/// the measurement.
pub fn run(
    program: &Path,
    args: &[&OsStr],
    max_address_space: u64,
    timeout: Duration,
    report: &Path,
) -> std::io::Result<Measured> {
    let _ = std::fs::remove_file(report);
    let start = Instant::now();
    let output = Command::new(TIME)
        .args(["-f", "%M", "-o"])
        .arg(report)
        .args(["timeout", "-s", "KILL"])
        .arg(format!("{}s", timeout.as_secs().max(1)))
        .arg("prlimit")
        .arg(format!("--as={max_address_space}"))
        .arg("--")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()?;
    let wall = start.elapsed();
    let text = std::fs::read_to_string(report)?;
    // The report ends with the number; a killed child adds a "Command terminated" line before it.
    let kib: u64 = text
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .next_back()
        .ok_or_else(|| std::io::Error::other(format!("no peak memory in `{text}`")))?;
    Ok(Measured {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        wall,
        peak_rss: kib * 1024,
    })
}

/// Whether the tools [`run`] needs are installed.
pub fn available() -> Option<PathBuf> {
    let time = PathBuf::from(TIME);
    time.exists().then_some(time)
}
