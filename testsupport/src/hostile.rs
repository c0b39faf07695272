//! Runs a command as a measured child process: wall time, peak resident memory and exit
//! status, under an address-space limit (the hostile-input suite, `cli/tests/hostile.rs`).
//!
//! Peak memory must be the child's own, not the test process's, and must be known even when
//! the child is killed, so the child is reaped with `wait4`, which returns its resource usage
//! (`ru_maxrss`). The address-space cap (`RLIMIT_AS`) is set in the child between fork and exec,
//! so a runaway allocation fails inside the child instead of taking the machine down.
//!
//! These are the only `unsafe` calls in the workspace (test support only); each is a plain
//! system call (setrlimit, wait4, kill) with no pointers kept past the call.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What one measured run produced.
#[derive(Debug)]
pub struct Measured {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
    /// Peak resident set size of the child, in bytes.
    pub peak_rss: u64,
}

impl Measured {
    /// The exit code, or `None` when a signal ended the child.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn peak_mib(&self) -> f64 {
        self.peak_rss as f64 / (1024.0 * 1024.0)
    }
}

/// Runs `command` with its address space capped at `max_address_space` bytes and its wall time
/// at `timeout` (killed past it), capturing its output.
pub fn run(mut command: Command, max_address_space: u64, timeout: Duration) -> std::io::Result<Measured> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let limit = libc::rlimit {
        rlim_cur: max_address_space as libc::rlim_t,
        rlim_max: max_address_space as libc::rlim_t,
    };
    // SAFETY: setrlimit is async-signal-safe and only reads `limit`, which is copied into the
    // closure; nothing else runs between fork and exec.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_AS, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let start = Instant::now();
    let mut child = command.spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || read_all(&mut stdout));
    let err = std::thread::spawn(move || read_all(&mut stderr));
    // Kill the child past the timeout (a hang is a failure the caller reports).
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let killer = std::thread::spawn(move || {
        if done_rx.recv_timeout(timeout).is_err() {
            // The child is ours and not yet reaped (we reap it only after this thread is told
            // to stop), so the pid cannot have been reused.
            // SAFETY: a plain signal to our own child's pid.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    });
    let mut raw_status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: wait4 writes the status and the usage of our own child into the two buffers.
    #[allow(unsafe_code)]
    let (reaped, usage) = unsafe {
        let r = libc::wait4(pid, &mut raw_status, 0, usage.as_mut_ptr());
        (r, usage.assume_init())
    };
    let wall = start.elapsed();
    let _ = done_tx.send(());
    let _ = killer.join();
    if reaped != pid {
        return Err(std::io::Error::last_os_error());
    }
    // `child` was reaped by wait4 above; dropping it does not wait again.
    drop(child);
    Ok(Measured {
        status: ExitStatus::from_raw(raw_status),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        wall,
        // Linux reports ru_maxrss in KiB.
        peak_rss: usage.ru_maxrss.max(0) as u64 * 1024,
    })
}

fn read_all(r: &mut impl std::io::Read) -> String {
    let mut buf = Vec::new();
    let _ = r.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
