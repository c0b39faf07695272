//! Diagnostic codes of the project file and the Git source (family `K11xx`).
//!
//! They live beside the code that reports them, like the lowering codes, and are documented in
//! `docs/diagnostics.md`; `gitops/tests/project_file.rs` checks that every code has a section
//! whose ```` ```toml ```` example produces it, and snapshots the rendered output.

use kiln_lang::Code;

macro_rules! codes {
    ($($konst:ident = $id:literal, $name:literal, $summary:literal;)*) => {
        $(pub const $konst: Code = Code { id: $id, name: $name, summary: $summary };)*
        /// Every code of this family, in order.
        pub const ALL: &[Code] = &[$($konst),*];
    };
}

codes! {
    // K11xx: project file and Git source.
    PROJECT_SYNTAX = "K1101", "project-syntax", "kiln.toml is not valid TOML.";
    UNKNOWN_PROJECT_KEY = "K1102", "unknown-project-key", "kiln.toml has a key kiln does not know.";
    INVALID_PROJECT_VALUE = "K1103", "invalid-project-value", "A key of kiln.toml has a value of the wrong type or form, or a required key is missing.";
    PATH_CLAIMED_TWICE = "K1104", "path-claimed-twice", "Two apps of kiln.toml claim the same path (or one's path is inside the other's).";
    MISSING_APP_PATH = "K1105", "missing-app-path", "A path of an app in kiln.toml does not exist, holds no .kiln file, or leaves the repository.";
    DUPLICATE_APP = "K1106", "duplicate-app", "Two apps of kiln.toml have the same name.";
}
