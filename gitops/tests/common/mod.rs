//! A local bare repository as the remote, with commits made by the test (git CLI, fixed
//! author and dates so commit ids, and so golden files, are the same on every run).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestRepo {
    _dir: tempdir::Dir,
    pub work: PathBuf,
    pub remote: PathBuf,
    pub cache: PathBuf,
    commits: u32,
}

mod tempdir {
    use std::path::PathBuf;

    /// A directory removed on drop.
    pub struct Dir(pub PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn git(dir: &Path, args: &[&str], seq: u32) {
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
}

impl TestRepo {
    pub fn new(name: &str) -> TestRepo {
        let base = std::env::temp_dir().join(format!("kiln-gitops-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let work = base.join("work");
        let remote = base.join("remote.git");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(&remote).unwrap();
        git(&remote, &["init", "--bare", "-q", "-b", "main"], 0);
        git(&work, &["init", "-q", "-b", "main"], 0);
        git(&work, &["remote", "add", "origin", remote.to_str().unwrap()], 0);
        TestRepo {
            work,
            remote,
            cache: base.join("cache"),
            _dir: tempdir::Dir(base),
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

    #[cfg(unix)]
    pub fn symlink(&self, path: &str, target: &str) -> &Self {
        let p = self.work.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
        self
    }

    /// Commits everything and pushes `main` to the bare remote; returns the commit id.
    pub fn commit(&mut self, message: &str) -> String {
        self.commits += 1;
        git(&self.work, &["add", "-A"], self.commits);
        git(
            &self.work,
            &["commit", "-q", "--allow-empty", "-m", message],
            self.commits,
        );
        git(&self.work, &["push", "-q", "origin", "main"], self.commits);
        let out = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(&self.work)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn tag(&self, name: &str) {
        git(&self.work, &["tag", name], self.commits);
        git(&self.work, &["push", "-q", "origin", name], self.commits);
    }

    /// The remote as kiln fetches it (a bare mirror in the test's cache).
    pub fn source(&self) -> kiln_gitops::GitSource {
        kiln_gitops::GitSource::fetch(
            self.remote.to_str().unwrap(),
            &self.cache,
            &kiln_gitops::Credentials::default(),
        )
        .expect("fetch the test remote")
    }
}

/// A ConfigMap app file.
pub fn config_map(name: &str, ns: &str, data: &[(&str, &str)]) -> String {
    let entries: Vec<String> = data.iter().map(|(k, v)| format!("{k} = \"{v}\"")).collect();
    format!(
        "import \"kubeflow\" as kf\n\nkf.Object \"{name}\" = kf.config_map({{ {} }}) with {{ namespace = \"{ns}\" }}\n",
        entries.join(", ")
    )
}
