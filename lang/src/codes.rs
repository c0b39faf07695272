//! Stable diagnostic codes of the syntax stage (`K00xx`).
//!
//! Ranges across kiln: `K00xx` syntax, `K01xx` names and modules, `K02xx` types and records,
//! `K03xx` units and literals, `K04xx` pipelines and artifacts, `K05xx` resources, GPUs and quota,
//! `K06xx` evaluation and budgets, `K07xx` upstream schemas, `K09xx` internal.
//! A code is never reused for a different meaning; every code has an entry in `docs/diagnostics.md`.

use crate::diagnostic::Code;

macro_rules! codes {
    ($($konst:ident = $id:literal, $name:literal, $summary:literal;)*) => {
        $(pub const $konst: Code = Code { id: $id, name: $name, summary: $summary };)*
        /// Every syntax code, in order.
        pub const ALL: &[Code] = &[$($konst),*];
    };
}

codes! {
    UNEXPECTED_TOKEN = "K0001", "unexpected-token", "The parser found a token that cannot appear here.";
    UNTERMINATED_STRING = "K0002", "unterminated-string", "A string literal or interpolation is not closed.";
    TAB_INDENT = "K0003", "tab-indentation", "A tab is used for indentation; kiln uses spaces.";
    YAML_COLON = "K0004", "yaml-colon-in-record", "A record field is written `name: value` as in YAML; kiln writes `name = value`.";
    HELM_TEMPLATE = "K0005", "helm-template", "Helm/Go template syntax `{{ ... }}`; kiln interpolates with `${...}`.";
    INVALID_NUMBER = "K0006", "invalid-number", "A number or unit literal is malformed or out of range.";
    UNKNOWN_CHARACTER = "K0007", "unknown-character", "A character that kiln's syntax does not use.";
    TOO_DEEP = "K0008", "nesting-too-deep", "Brackets nest deeper than the parser allows.";
    TOO_MANY_ERRORS = "K0009", "too-many-syntax-errors", "The file has more syntax errors than are reported.";
    UNCLOSED_DELIMITER = "K0010", "unclosed-delimiter", "A bracket, brace or parenthesis is not closed.";
    INVALID_ESCAPE = "K0011", "invalid-escape", "A string contains an unknown escape sequence.";
}
