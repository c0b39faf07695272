//! The Git source: a repository read at any commit, branch or tag, never through a work tree.
//!
//! [`GitSource::open`] reads a local repository (bare or not) in place. [`GitSource::fetch`]
//! keeps a bare mirror of a remote in a cache directory (one per URL) and fetches into it, so
//! only new objects cross the network after the first run. Transports: local paths, `file://`,
//! `https://` (token) and `ssh://` / `user@host:path` (key).
//!
//! Credentials come from files or the environment ([`Credentials::from_env`]) and are handed
//! to libgit2 in its credential callback only. They are never put in a URL, printed, logged or
//! put in an error: errors name the remote by its URL with any user-info removed
//! ([`redact_url`]).

use std::cell::Cell;
use std::fmt;
use std::path::{Path, PathBuf};

use git2::{Cred, CredentialType, FetchOptions, Oid, RemoteCallbacks, Repository};

use crate::tree::Snapshot;

/// A secret string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(hidden)")
    }
}

/// How to authenticate to a remote.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// HTTPS token (GitHub, GitLab and others accept it as the password).
    pub token: Option<Secret>,
    /// HTTPS user name sent with the token (default `x-access-token`, which GitHub expects;
    /// GitLab accepts any name, for example `oauth2`).
    pub username: Option<String>,
    /// SSH private key file.
    pub ssh_key: Option<PathBuf>,
    /// Passphrase of the SSH key.
    pub ssh_passphrase: Option<Secret>,
    /// An OpenSSH `known_hosts` file the SSH server's host key must be in (plain host names:
    /// `host` for port 22, `[host]:port` otherwise). Without it, libgit2 checks
    /// `~/.ssh/known_hosts`. An unknown or different host key fails the fetch either way.
    pub ssh_known_hosts: Option<PathBuf>,
}

/// Environment variables [`Credentials::from_env`] reads.
pub const ENV_TOKEN: &str = "KILN_GIT_TOKEN";
pub const ENV_TOKEN_FILE: &str = "KILN_GIT_TOKEN_FILE";
pub const ENV_USERNAME: &str = "KILN_GIT_USERNAME";
pub const ENV_SSH_KEY: &str = "KILN_GIT_SSH_KEY";
pub const ENV_SSH_PASSPHRASE_FILE: &str = "KILN_GIT_SSH_PASSPHRASE_FILE";
pub const ENV_SSH_KNOWN_HOSTS: &str = "KILN_GIT_SSH_KNOWN_HOSTS";

impl Credentials {
    /// `KILN_GIT_TOKEN` or the file named by `KILN_GIT_TOKEN_FILE` (trailing newline removed),
    /// `KILN_GIT_USERNAME`, `KILN_GIT_SSH_KEY` (a key file), `KILN_GIT_SSH_PASSPHRASE_FILE` and
    /// `KILN_GIT_SSH_KNOWN_HOSTS` (a known_hosts file).
    /// A file that cannot be read is an error naming the file, never its content.
    pub fn from_env() -> Result<Credentials, GitError> {
        let mut creds = Credentials::default();
        if let Some(path) = std::env::var_os(ENV_TOKEN_FILE) {
            creds.token = Some(read_secret_file(Path::new(&path), ENV_TOKEN_FILE)?);
        } else if let Ok(token) = std::env::var(ENV_TOKEN)
            && !token.is_empty()
        {
            creds.token = Some(Secret::new(token));
        }
        creds.username = std::env::var(ENV_USERNAME).ok().filter(|u| !u.is_empty());
        creds.ssh_key = std::env::var_os(ENV_SSH_KEY).map(PathBuf::from);
        creds.ssh_known_hosts = std::env::var_os(ENV_SSH_KNOWN_HOSTS).map(PathBuf::from);
        if let Some(path) = std::env::var_os(ENV_SSH_PASSPHRASE_FILE) {
            creds.ssh_passphrase = Some(read_secret_file(Path::new(&path), ENV_SSH_PASSPHRASE_FILE)?);
        }
        Ok(creds)
    }

    /// Reads the token from a file (`--git-token-file`).
    pub fn with_token_file(mut self, path: &Path) -> Result<Credentials, GitError> {
        self.token = Some(read_secret_file(path, "--git-token-file")?);
        Ok(self)
    }
}

fn read_secret_file(path: &Path, what: &str) -> Result<Secret, GitError> {
    std::fs::read_to_string(path)
        .map(|s| Secret::new(s.trim_end_matches(['\n', '\r']).to_string()))
        .map_err(|e| {
            GitError(format!(
                "cannot read the file {} named by {what}: {}",
                path.display(),
                e.kind()
            ))
        })
}

/// A Git failure, in one sentence that names the repository or the revision; never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitError(pub String);

impl fmt::Display for GitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GitError {}

/// A repository kiln reads commits from.
pub struct GitSource {
    repo: Repository,
    /// The URL it mirrors (fetched sources), redacted.
    remote: Option<String>,
}

/// A resolved revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// What the user wrote (`main`, `v1.2`, `HEAD~1`, a hash).
    pub spec: String,
    pub commit: Oid,
    /// The ref it names, when it names one (`refs/heads/main`), so a later run can tell whether
    /// the branch moved.
    pub reference: Option<String>,
}

impl GitSource {
    /// Opens a local repository (a bare one, or the one holding `path` in its work tree; the
    /// work tree itself is never read).
    pub fn open(path: &Path) -> Result<GitSource, GitError> {
        let repo = Repository::discover(path).map_err(|e| {
            GitError(format!(
                "{} is not a Git repository ({})",
                path.display(),
                e.message()
            ))
        })?;
        Ok(GitSource { repo, remote: None })
    }

    /// Fetches `url` into a bare mirror under `cache_dir` (created on first use; later runs
    /// fetch only what is new) and opens it. Branches are mirrored as `refs/remotes/origin/*`,
    /// tags as `refs/tags/*`.
    pub fn fetch(url: &str, cache_dir: &Path, creds: &Credentials) -> Result<GitSource, GitError> {
        let shown = redact_url(url);
        let dir = cache_dir.join(format!("{}.git", &blake3::hash(url.as_bytes()).to_hex()[..16]));
        let repo = match Repository::open_bare(&dir) {
            Ok(repo) => repo,
            Err(_) => {
                std::fs::create_dir_all(&dir).map_err(|e| {
                    GitError(format!(
                        "cannot create the Git cache {}: {}",
                        dir.display(),
                        e.kind()
                    ))
                })?;
                Repository::init_bare(&dir).map_err(|e| {
                    GitError(format!(
                        "cannot create the Git cache {}: {}",
                        dir.display(),
                        e.message()
                    ))
                })?
            }
        };
        {
            let mut remote = repo
                .remote_anonymous(url)
                .map_err(|e| GitError(format!("the remote {shown} is not usable: {}", e.message())))?;
            let mut options = FetchOptions::new();
            options.remote_callbacks(callbacks(creds, url));
            options.download_tags(git2::AutotagOption::All);
            remote
                .fetch(
                    &["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
                    Some(&mut options),
                    None,
                )
                .map_err(|e| GitError(format!("cannot fetch {shown}: {}", scrub(e.message(), creds))))?;
        }
        Ok(GitSource {
            repo,
            remote: Some(shown),
        })
    }

    /// Resolves a commit hash, branch, tag or any `git rev-parse` expression to a commit. For a
    /// fetched source, a branch name means the remote's branch.
    pub fn resolve(&self, spec: &str) -> Result<Revision, GitError> {
        let candidates: Vec<String> = if self.remote.is_some() {
            vec![
                format!("refs/remotes/origin/{spec}"),
                format!("refs/tags/{spec}"),
                spec.to_string(),
            ]
        } else {
            // A clone in CI often has no local branch, only the remote's.
            vec![
                format!("refs/heads/{spec}"),
                format!("refs/tags/{spec}"),
                format!("refs/remotes/origin/{spec}"),
                format!("refs/remotes/{spec}"),
                spec.to_string(),
            ]
        };
        for candidate in &candidates {
            if let Ok(reference) = self.repo.find_reference(candidate)
                && let Ok(commit) = reference.peel_to_commit()
            {
                return Ok(Revision {
                    spec: spec.to_string(),
                    commit: commit.id(),
                    reference: Some(candidate.clone()),
                });
            }
        }
        // An expression (`main~1`): for a mirror, branch names are the remote's.
        let mirrored = self.remote.as_ref().and_then(|_| {
            self.repo
                .revparse_single(&format!("refs/remotes/origin/{spec}"))
                .ok()
        });
        let object = mirrored
            .map_or_else(|| self.repo.revparse_single(spec), Ok)
            .map_err(|_| {
                GitError(format!(
                    "`{spec}` is not a commit, branch or tag of {}",
                    self.describe()
                ))
            })?;
        let commit = object
            .peel_to_commit()
            .map_err(|_| GitError(format!("`{spec}` does not name a commit in {}", self.describe())))?;
        Ok(Revision {
            spec: spec.to_string(),
            commit: commit.id(),
            reference: None,
        })
    }

    /// Brings a remote-tracking ref (`refs/remotes/origin/main`) of a local repository up to
    /// date with its remote, so that a later [`GitSource::resolve`] sees where the branch is now.
    /// Other refs are left alone (a local branch moves only by local commits).
    pub fn refresh(&self, reference: &str, creds: &Credentials) -> Result<(), GitError> {
        if self.remote.is_some() {
            return Ok(());
        }
        let Some((remote_name, branch)) = reference
            .strip_prefix("refs/remotes/")
            .and_then(|r| r.split_once('/'))
        else {
            return Ok(());
        };
        let mut remote = self.repo.find_remote(remote_name).map_err(|e| {
            GitError(format!(
                "the remote `{remote_name}` is not usable: {}",
                e.message()
            ))
        })?;
        let shown = remote
            .url()
            .map(redact_url)
            .unwrap_or_else(|| remote_name.to_string());
        let url = remote.url().unwrap_or_default().to_string();
        let mut options = FetchOptions::new();
        options.remote_callbacks(callbacks(creds, &url));
        remote
            .fetch(
                &[format!("+refs/heads/{branch}:{reference}")],
                Some(&mut options),
                None,
            )
            .map_err(|e| GitError(format!("cannot fetch {shown}: {}", scrub(e.message(), creds))))
    }

    /// The files of one commit.
    pub fn snapshot(&self, commit: Oid) -> Result<Snapshot<'_>, GitError> {
        let tree = self
            .repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(|e| GitError(format!("cannot read commit {commit}: {}", e.message())))?;
        Ok(Snapshot::new(&self.repo, tree, commit))
    }

    /// The repository or remote, for messages.
    pub fn describe(&self) -> String {
        match &self.remote {
            Some(url) => url.clone(),
            None => self.repo.path().display().to_string(),
        }
    }

    pub fn repository(&self) -> &Repository {
        &self.repo
    }
}

/// Credential callbacks: the token for HTTPS, the key for SSH. Each kind is offered once, so a
/// wrong credential fails fast instead of looping. With a known_hosts file, the SSH host key is
/// checked against it.
fn callbacks<'a>(creds: &'a Credentials, url: &str) -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    let tried = Cell::new(0u32);
    callbacks.credentials(move |_url, username, allowed| {
        tried.set(tried.get() + 1);
        if tried.get() > 3 {
            return Err(git2::Error::from_str("the remote refused the credentials"));
        }
        if allowed.contains(CredentialType::SSH_KEY)
            && let Some(key) = &creds.ssh_key
        {
            let public = key.with_extension("pub");
            return Cred::ssh_key(
                username.unwrap_or("git"),
                public.exists().then_some(public.as_path()),
                key,
                creds.ssh_passphrase.as_ref().map(Secret::expose),
            );
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && let Some(token) = &creds.token
        {
            let user = creds.username.as_deref().or(username).unwrap_or("x-access-token");
            return Cred::userpass_plaintext(user, token.expose());
        }
        if allowed.contains(CredentialType::USERNAME) {
            return Cred::username(username.unwrap_or("git"));
        }
        Err(git2::Error::from_str(
            "the remote asks for credentials and none are configured (set KILN_GIT_TOKEN_FILE or KILN_GIT_SSH_KEY)",
        ))
    });
    if let Some(file) = &creds.ssh_known_hosts {
        let host = known_hosts_name(url);
        callbacks.certificate_check(move |cert, _| {
            let Some(key) = cert.as_hostkey().and_then(|k| k.hostkey()) else {
                return Ok(git2::CertificateCheckStatus::CertificatePassthrough);
            };
            if known_host(file, &host, key) {
                Ok(git2::CertificateCheckStatus::CertificateOk)
            } else {
                Err(git2::Error::from_str(&format!(
                    "the SSH host key of {host} is not in the known_hosts file {} ({ENV_SSH_KNOWN_HOSTS})",
                    file.display()
                )))
            }
        });
    }
    callbacks
}

/// How known_hosts names the server of an SSH URL: `host`, or `[host]:port` off port 22.
fn known_hosts_name(url: &str) -> String {
    let (authority, explicit_port) = match url.split_once("://") {
        Some((_, rest)) => (rest.split('/').next().unwrap_or(rest), true),
        // scp-like `user@host:path`: no port.
        None => (url.split(':').next().unwrap_or(url), false),
    };
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host_port.rsplit_once(':') {
        Some((host, port)) if explicit_port && port != "22" && !port.is_empty() => {
            format!("[{host}]:{port}")
        }
        Some((host, _)) if explicit_port => host.to_string(),
        _ => host_port.to_string(),
    }
}

/// Whether `known_hosts` lists `key` (the SSH wire encoding) for `host`. Hashed names and
/// marker lines (`@cert-authority`, `@revoked`) never match.
fn known_host(known_hosts: &Path, host: &str, key: &[u8]) -> bool {
    use base64::Engine;
    let Ok(text) = std::fs::read_to_string(known_hosts) else {
        return false;
    };
    text.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let (Some(names), Some(_kind), Some(blob)) = (fields.next(), fields.next(), fields.next()) else {
            return false;
        };
        !names.starts_with('@')
            && names.split(',').any(|n| n == host)
            && base64::engine::general_purpose::STANDARD
                .decode(blob)
                .is_ok_and(|b| b == key)
    })
}

/// Removes any secret a library message might quote.
fn scrub(message: &str, creds: &Credentials) -> String {
    let mut out = message.to_string();
    for secret in [&creds.token, &creds.ssh_passphrase].into_iter().flatten() {
        if !secret.expose().is_empty() {
            out = out.replace(secret.expose(), "(hidden)");
        }
    }
    out
}

/// `https://user:token@host/x` -> `https://host/x`; other forms unchanged.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        if let Some((_, host)) = authority.rsplit_once('@') {
            return format!("{scheme}://{host}/{path}");
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_user_info() {
        assert_eq!(
            redact_url("https://bot:s3cr3t@git.example/a/b.git"),
            "https://git.example/a/b.git"
        );
        assert_eq!(
            redact_url("https://git.example/a.git"),
            "https://git.example/a.git"
        );
        assert_eq!(redact_url("git@host:a/b.git"), "git@host:a/b.git");
    }

    #[test]
    fn ssh_urls_name_their_known_hosts_entry() {
        assert_eq!(
            known_hosts_name("ssh://git@127.0.0.1:2222/srv/r.git"),
            "[127.0.0.1]:2222"
        );
        assert_eq!(known_hosts_name("ssh://git@host.example/r.git"), "host.example");
        assert_eq!(
            known_hosts_name("ssh://git@host.example:22/r.git"),
            "host.example"
        );
        assert_eq!(known_hosts_name("git@host.example:team/r.git"), "host.example");
    }

    #[test]
    fn secrets_do_not_debug_print() {
        let c = Credentials {
            token: Some(Secret::new("tok-123")),
            ..Credentials::default()
        };
        assert!(!format!("{c:?}").contains("tok-123"));
        assert_eq!(scrub("bad tok-123 here", &c), "bad (hidden) here");
    }
}
