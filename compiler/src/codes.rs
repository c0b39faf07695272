//! The central registry of stable diagnostic codes (Ruff style).
//!
//! Syntax codes (`K00xx`) are defined in `kiln_lang::codes`; the codes of the compiler's stages
//! are defined here. [`registry`] lists all of them; a test checks that each one has a section in
//! `docs/diagnostics.md` and a snapshot test.

use kiln_lang::Code;

macro_rules! codes {
    ($($konst:ident = $id:literal, $name:literal, $summary:literal;)*) => {
        $(pub const $konst: Code = Code { id: $id, name: $name, summary: $summary };)*
        /// Every compiler code, in order.
        pub const ALL: &[Code] = &[$($konst),*];
    };
}

codes! {
    // K01xx: names and modules.
    UNKNOWN_NAME = "K0101", "unknown-name", "A name is not defined in scope.";
    UNKNOWN_IMPORT = "K0102", "unknown-import", "An import names a file or stdlib module that does not exist.";
    IMPORT_CYCLE = "K0103", "import-cycle", "Modules import each other in a cycle.";
    DUPLICATE_DEFINITION = "K0104", "duplicate-definition", "A name is defined twice in the same scope.";
    REFERENCE_CYCLE = "K0105", "reference-cycle", "Record fields refer to each other in a cycle.";
    RECURSION = "K0106", "recursion", "A function calls itself, directly or through others.";
    INTERNAL = "K0901", "internal-error", "kiln itself failed; please report it.";
}

/// Every code kiln can emit, syntax first, sorted by id.
pub fn registry() -> Vec<Code> {
    let mut all: Vec<Code> = kiln_lang::codes::ALL.iter().chain(ALL.iter()).copied().collect();
    all.sort_by_key(|c| c.id);
    all
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique_and_well_formed() {
        let all = super::registry();
        for pair in all.windows(2) {
            assert_ne!(pair[0].id, pair[1].id, "duplicate code id");
        }
        for code in &all {
            assert!(
                code.id.len() == 5 && code.id.starts_with('K'),
                "bad id {}",
                code.id
            );
            assert!(
                code.id[1..].chars().all(|c| c.is_ascii_digit()),
                "bad id {}",
                code.id
            );
        }
    }
}
