//! Property tests: random token soup and mutated fixtures never make `parse` or `format_source`
//! panic (or hang), and whenever formatting succeeds it keeps its contract (same AST, idempotent).

use kiln_lang::testing::{Edit, check_format, mutate};
use kiln_lang::{FileId, format::format_source, parse};
use proptest::prelude::*;

const FIXTURE: &str = include_str!("fixtures/all_constructs.kiln");

/// Fragments that recombine into plausible and implausible kiln.
const PIECES: &[&str] = &[
    "let",
    "type",
    "fn",
    "import",
    "as",
    "if",
    "then",
    "else",
    "for",
    "in",
    "with",
    "match",
    "true",
    "false",
    "x",
    "kf",
    "Gpu",
    "_",
    "a_1",
    "1",
    "1_000",
    "1.5",
    "1e-3",
    "16Gi",
    "500m",
    "30s",
    "10%",
    "16gb",
    "\"s\"",
    "\"a ${x} b\"",
    "\"\"\"\n  m\n  \"\"\"",
    "\"{{x}}\"",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    ";",
    ".",
    "=",
    ":",
    "?",
    "|",
    "->",
    "=>",
    "..",
    "+",
    "-",
    "*",
    "/",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "!",
    "@",
    "\n",
    "\n\n",
    "# c\n",
    "## d\n",
    "\t",
    "{{",
    "^",
    "é",
    "\"",
    "\"${",
    "(/re/)",
    "\\",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec((0..PIECES.len(), prop::bool::ANY), 0..60).prop_map(|parts| {
        let mut s = String::new();
        for (i, space) in parts {
            s.push_str(PIECES[i]);
            if space {
                s.push(' ');
            }
        }
        s
    })
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), 1usize..20).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::Duplicate(at, n)),
        (
            any::<usize>(),
            prop::sample::select(vec![
                '{', '}', '[', ']', '(', ')', '"', '\n', ',', '=', ':', '#', '$', '\\', '-', 'x', ' ', '\t',
                'é'
            ])
        )
            .prop_map(|(at, c)| Edit::Insert(at, c)),
    ];
    prop::collection::vec(edit, 1..6)
}

fn exercise(src: &str) -> Result<(), TestCaseError> {
    let _ = parse(FileId(0), src);
    if format_source(FileId(0), src).is_ok() {
        check_format(src).map_err(TestCaseError::fail)?;
    }
    Ok(())
}

proptest! {
    // 256 cases by default (fast); `PROPTEST_CASES=20000` for a deeper run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        // A fixed seed keeps CI deterministic; deeper random runs set PROPTEST_RNG_SEED_RANDOM=1.
        rng_seed: if std::env::var_os("PROPTEST_RNG_SEED_RANDOM").is_some() {
            proptest::test_runner::RngSeed::Random
        } else {
            proptest::test_runner::RngSeed::Fixed(0x6b69_6c6e)
        },
        ..ProptestConfig::default()
    })]

    #[test]
    fn token_soup_never_panics(src in soup()) {
        exercise(&src)?;
    }

    #[test]
    fn mutated_fixture_never_panics(edits in edits()) {
        let src = mutate(FIXTURE.to_string(), &edits);
        exercise(&src)?;
    }
}
