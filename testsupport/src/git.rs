//! Git repositories made by tests, and the real transports that serve them.
//!
//! * [`TestRepo`]: a work tree and a bare remote; commits made with the git CLI, with a fixed
//!   author and fixed dates (so commit ids, and golden files that show them, are the same on
//!   every run) and without the user's Git configuration.
//! * [`HttpGitServer`]: the bare remote served over smart HTTP by the real `git http-backend`
//!   (CGI) behind a loopback server that demands HTTP Basic authentication with a token, and
//!   records the request lines it saw.
//! * [`SshGitServer`]: a real `sshd` on loopback with a host key and a client key made by the
//!   test; the remote is read with `git-upload-pack` as the forge would run it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs git in `dir` as a test author at a fixed date (`seq` seconds after a fixed time), never
/// reading the user's or the system's configuration. Returns stdout; panics with git's stderr.
pub fn git(dir: &Path, args: &[&str], seq: u32) -> String {
    let date = format!("2026-01-01T00:{:02}:{:02}Z", seq / 60, seq % 60);
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "kiln test")
        .env("GIT_AUTHOR_EMAIL", "test@kiln.invalid")
        .env("GIT_COMMITTER_NAME", "kiln test")
        .env("GIT_COMMITTER_EMAIL", "test@kiln.invalid")
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A work tree whose `origin` is a bare repository beside it (`remote.git`).
pub struct TestRepo {
    _dir: TempDir,
    /// The folder holding `work/`, `remote.git/` and `cache/`.
    pub base: PathBuf,
    pub work: PathBuf,
    pub remote: PathBuf,
    /// A folder for the test's caches (not created).
    pub cache: PathBuf,
    commits: u32,
}

impl TestRepo {
    /// A fresh repository under the temporary folder (`name` keeps tests apart).
    pub fn new(name: &str) -> TestRepo {
        let base = std::env::temp_dir().join(format!("kiln-git-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let work = base.join("work");
        let remote = base.join("remote.git");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(&remote).unwrap();
        git(&remote, &["init", "--bare", "-q", "-b", "main"], 0);
        git(&work, &["init", "-q", "-b", "main"], 0);
        git(&work, &["remote", "add", "origin", remote.to_str().unwrap()], 0);
        TestRepo {
            cache: base.join("cache"),
            work,
            remote,
            _dir: TempDir(base.clone()),
            base,
            commits: 0,
        }
    }

    pub fn write(&self, path: &str, text: &str) -> &Self {
        let p = self.work.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    pub fn remove(&self, path: &str) -> &Self {
        std::fs::remove_file(self.work.join(path)).unwrap();
        self
    }

    pub fn symlink(&self, path: &str, target: &str) -> &Self {
        let p = self.work.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
        self
    }

    /// Commits everything and pushes `main` to the bare remote; returns the commit id.
    pub fn commit(&mut self, message: &str) -> String {
        git(&self.work, &["add", "-A"], self.commits);
        self.commit_index(message)
    }

    /// Runs git in the work tree (for index surgery before [`TestRepo::commit_index`]).
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.work, args, self.commits)
    }

    /// Commits the index as it is and pushes `main`; returns the commit id.
    pub fn commit_index(&mut self, message: &str) -> String {
        self.commits += 1;
        git(
            &self.work,
            &["commit", "-q", "--allow-empty", "-m", message],
            self.commits,
        );
        git(&self.work, &["push", "-q", "origin", "main"], self.commits);
        git(&self.work, &["rev-parse", "HEAD"], self.commits)
            .trim()
            .to_string()
    }

    /// Commits everything signed with the SSH private key `key` (`gpg.format=ssh`, git runs
    /// `ssh-keygen -Y sign`) and pushes `main`; returns the commit id.
    pub fn commit_signed(&mut self, message: &str, key: &Path) -> String {
        git(&self.work, &["add", "-A"], self.commits);
        self.commits += 1;
        let signing_key = format!("user.signingkey={}", key.display());
        git(
            &self.work,
            &[
                "-c",
                "gpg.format=ssh",
                "-c",
                &signing_key,
                "commit",
                "-q",
                "-S",
                "--allow-empty",
                "-m",
                message,
            ],
            self.commits,
        );
        git(&self.work, &["push", "-q", "origin", "main"], self.commits);
        git(&self.work, &["rev-parse", "HEAD"], self.commits)
            .trim()
            .to_string()
    }

    pub fn tag(&self, name: &str) {
        git(&self.work, &["tag", name], self.commits);
        git(&self.work, &["push", "-q", "origin", name], self.commits);
    }
}

/// A ConfigMap app file (`kf.Object NAME = kf.config_map({..})` in namespace `ns`).
pub fn config_map(name: &str, ns: &str, data: &[(&str, &str)]) -> String {
    let entries: Vec<String> = data.iter().map(|(k, v)| format!("{k} = \"{v}\"")).collect();
    format!(
        "import \"kubeflow\" as kf\n\nkf.Object \"{name}\" = kf.config_map({{ {} }}) with {{ namespace = \"{ns}\" }}\n",
        entries.join(", ")
    )
}

/// Standard base64 (for the Basic authorization the HTTP server expects).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `git http-backend` serving the repositories under a folder at `http://127.0.0.1:PORT/`,
/// one request per connection, every request authenticated with HTTP Basic (`user`, `token`).
/// Stopped on drop.
pub struct HttpGitServer {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl HttpGitServer {
    pub fn start(project_root: &Path, user: &str, token: &str) -> HttpGitServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let expected = format!("Basic {}", base64(format!("{user}:{token}").as_bytes()));
        let root = project_root.to_path_buf();
        let (seen, stopping) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (root, expected, seen) = (root.clone(), expected.clone(), seen.clone());
                        std::thread::spawn(move || {
                            let _ = serve(stream, &root, &expected, &seen);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HttpGitServer { url, requests, stop }
    }

    /// The request lines received (`GET /remote.git/info/refs?service=git-upload-pack`), and
    /// for each the status answered, as `METHOD TARGET -> STATUS`.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for HttpGitServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, root: &Path, expected: &str, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = header("content-length").and_then(|n| n.parse::<usize>().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    }
    let mut out = stream;
    if header("authorization") != Some(expected) {
        seen.lock().unwrap().push(format!("{method} {target} -> 401"));
        return out.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"kiln-test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut cgi = Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", "test")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    cgi.stdin.take().unwrap().write_all(&body)?;
    let output = cgi.wait_with_output()?;
    let text = output.stdout;
    let split = text
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| text.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (head, payload) = match split {
        Some((i, n)) => (String::from_utf8_lossy(&text[..i]).into_owned(), &text[i + n..]),
        None => (String::new(), &text[..]),
    };
    let mut status = "200 OK".to_string();
    let mut response_headers = String::new();
    for h in head.lines() {
        match h.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_string(),
            Some(_) => response_headers.push_str(&format!("{}\r\n", h.trim_end())),
            None => {}
        }
    }
    seen.lock().unwrap().push(format!(
        "{method} {target} -> {}",
        status.split(' ').next().unwrap_or("")
    ));
    out.write_all(
        format!(
            "HTTP/1.1 {status}\r\n{response_headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
            payload.len()
        )
        .as_bytes(),
    )?;
    out.write_all(payload)
}

/// A real `sshd` on loopback (`/usr/sbin/sshd`, Debian's openssh-server) that lets in one
/// client key, made by the test, as the user running the test. Stopped on drop.
pub struct SshGitServer {
    pub port: u16,
    /// The client's private key (no passphrase).
    pub client_key: PathBuf,
    /// A known_hosts file with the server's host key for `[127.0.0.1]:PORT`.
    pub known_hosts: PathBuf,
    child: Child,
}

/// Where Debian puts sshd.
pub const SSHD: &str = "/usr/sbin/sshd";

impl SshGitServer {
    /// Starts sshd with its files in `dir`; `None` (said on stderr) when sshd is not installed.
    pub fn start(dir: &Path) -> Option<SshGitServer> {
        if !Path::new(SSHD).exists() {
            eprintln!(
                "SKIPPED: {SSHD} is not installed (Debian package openssh-server; .ci/run installs it)"
            );
            return None;
        }
        std::fs::create_dir_all(dir).unwrap();
        let keygen = |file: &Path| {
            let _ = std::fs::remove_file(file);
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(file)
                .status()
                .expect("ssh-keygen runs")
                .success();
            assert!(ok, "ssh-keygen failed");
        };
        let host_key = dir.join("host_ed25519");
        let client_key = dir.join("client_ed25519");
        keygen(&host_key);
        keygen(&client_key);
        std::fs::copy(client_key.with_extension("pub"), dir.join("authorized_keys")).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                 PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n",
                host_key.display(),
                dir.join("authorized_keys").display(),
                dir.join("sshd.pid").display()
            ),
        )
        .unwrap();
        let host_pub = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
        let mut fields = host_pub.split_whitespace();
        let known_hosts = dir.join("known_hosts");
        std::fs::write(
            &known_hosts,
            format!(
                "[127.0.0.1]:{port} {} {}\n",
                fields.next().unwrap(),
                fields.next().unwrap()
            ),
        )
        .unwrap();
        // sshd wants its privilege-separation folder.
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(&config)
            .arg("-E")
            .arg(dir.join("sshd.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(SshGitServer {
            port,
            client_key,
            known_hosts,
            child,
        })
    }

    /// The `ssh://` URL of a repository on this machine.
    pub fn url(&self, repo: &Path) -> String {
        let user = Command::new("id")
            .arg("-un")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "root".to_string());
        format!("ssh://{user}@127.0.0.1:{}{}", self.port, repo.display())
    }
}

impl Drop for SshGitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
