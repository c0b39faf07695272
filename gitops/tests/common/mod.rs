//! A local bare repository as the remote, with commits made by the test
//! ([`kiln_testsupport::git::TestRepo`]: fixed author and dates, so commit ids, and so golden
//! files, are the same on every run), read as kiln reads a remote.

#![allow(dead_code)]

pub use kiln_testsupport::git::{TestRepo, config_map};

/// The remote as kiln fetches it (a bare mirror in the test's cache).
pub trait FetchedSource {
    fn source(&self) -> kiln_gitops::GitSource;
}

impl FetchedSource for TestRepo {
    fn source(&self) -> kiln_gitops::GitSource {
        kiln_gitops::GitSource::fetch(
            self.remote.to_str().unwrap(),
            &self.cache,
            &kiln_gitops::Credentials::default(),
        )
        .expect("fetch the test remote")
    }
}
