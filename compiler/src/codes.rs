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
    RECURSIVE_TYPE = "K0107", "recursive-type", "A type alias refers to itself.";
    UNKNOWN_REFERENCE = "K0108", "unknown-reference", "A reference names an entry (a step, an output, a parameter) that is not there.";
    NOT_A_REFERENCE = "K0109", "not-a-reference", "A reference is written as a string or an expression, or does not start at a field of an enclosing record.";
    OUTSIDE_PROJECT = "K0110", "outside-project", "A path climbs out of the project root with `..`, or is absolute.";
    SYMLINK_OUTSIDE_PROJECT = "K0111", "symlink-outside-project", "A symlink on an imported or scanned path leads outside the project.";
    SYMLINK_LOOP = "K0112", "symlink-loop", "Resolving a path follows too many symlinks (a loop).";
    NOT_A_REGULAR_FILE = "K0113", "not-a-regular-file", "An imported or scanned path is a directory, FIFO, socket or device.";
    SOURCE_TOO_LARGE = "K0114", "source-too-large", "A source file is larger than the per-file limit; it is refused before it is read.";
    NOT_A_SOURCE_FILE = "K0115", "not-a-source-file", "An import or a path names a file that is not a `.kiln` source (or one inside `.git`).";
    // K02xx: types and records.
    TYPE_MISMATCH = "K0201", "type-mismatch", "A value has a different type than the one expected.";
    BAD_CALL = "K0202", "bad-call", "A call has the wrong arguments, or calls something that is not a function.";
    UNKNOWN_FIELD = "K0203", "unknown-field", "A record has a field its type does not declare.";
    MISSING_FIELD = "K0204", "missing-field", "A record lacks a required field of its type.";
    NOT_IN_ENUM = "K0205", "not-in-enum", "A value or pattern is not one of the alternatives of a union.";
    REFINEMENT_VIOLATED = "K0206", "refinement-violated", "A literal is outside the range or pattern its type allows.";
    CANNOT_INFER = "K0207", "cannot-infer", "The type of a lambda parameter or an empty collection cannot be inferred.";
    INVALID_TYPE = "K0208", "invalid-type", "A type expression is malformed (mixed union, bad refinement, wrong type arguments).";
    NON_EXHAUSTIVE = "K0209", "non-exhaustive-match", "A match does not cover every case.";
    // K03xx: units and literals.
    STRING_FOR_QUANTITY = "K0301", "string-for-quantity", "A string is given where a quantity, duration or percentage is expected.";
    MISSING_UNIT = "K0302", "missing-unit", "A bare number is given where a memory quantity, duration or percentage is expected.";
    DIMENSION_MISMATCH = "K0303", "dimension-mismatch", "Units of different dimensions are combined (memory and duration, `m` for minutes).";
    INVALID_QUANTITY = "K0304", "invalid-quantity", "A unit literal has more than three decimals, overflows, or has an unknown suffix.";
    // K06xx: evaluation and budgets.
    BUDGET_EXCEEDED = "K0601", "budget-exceeded", "Evaluation needs more steps, output or source than the budget allows.";
    INTEGER_OVERFLOW = "K0602", "integer-overflow", "Integer or quantity arithmetic overflows.";
    REFINEMENT_FAILED = "K0603", "refinement-failed", "A computed value is outside the range or pattern its type allows.";
    ARITHMETIC_ERROR = "K0604", "arithmetic-error", "A division by zero, or a quantity division with no exact result.";
    MISSING_VALUE = "K0605", "missing-value", "A map key, list index or optional field has no value.";
    EVAL_TOO_DEEP = "K0606", "evaluation-too-deep", "Evaluation nests deeper than the budget allows (a chain of lets, calls or defaults, or an output value nested too deep).";
    CHECK_TOO_DEEP = "K0607", "check-too-deep", "Definitions refer to each other through a chain deeper than the checker follows (lets, functions, types, defaults).";
    IMPORT_CHAIN_TOO_DEEP = "K0608", "import-chain-too-deep", "Modules import each other through a chain deeper than the loader follows.";
    NON_FINITE_FLOAT = "K0609", "non-finite-float", "Float arithmetic produced infinity or NaN, which no manifest can hold.";
    // K07xx: manifests and upstream schemas.
    SCHEMA_VIOLATION = "K0701", "schema-violation", "A manifest does not match the upstream CRD or OpenAPI schema of its kind.";
    DUPLICATE_OBJECT = "K0702", "duplicate-object", "Two declarations produce the same Kubernetes object (kind, namespace, name).";
    OUTPUT_COLLISION = "K0705", "output-collision", "Two objects would be written to the same file by `kiln build -o`.";
    OUTPUT_THROUGH_SYMLINK = "K0706", "output-through-symlink", "The output folder of `kiln build -o` is, or goes through, a symlink.";
    OUTPUT_WRITE_FAILED = "K0707", "output-write-failed", "`kiln build -o` or `kiln fmt` could not write a file.";
    NOT_A_MANIFEST_TYPE = "K0703", "not-a-manifest-type", "`kiln build` is given an object of a project-defined type, which has no Kubernetes form.";
    INTERNAL = "K0901", "internal-error", "kiln itself failed; please report it.";
}

/// Every code kiln can emit, syntax first, sorted by id.
pub fn registry() -> Vec<Code> {
    let mut all: Vec<Code> = kiln_lang::codes::ALL
        .iter()
        .chain(ALL)
        .chain(crate::lower::codes::ALL)
        .chain(crate::lower::pipeline::codes::ALL)
        .copied()
        .collect();
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
