//! Mutated real specs never crash or hang the compiler: every example (team, kinds, all upstream
//! ones), edited at random (bytes deleted, repeated or inserted), goes through `compile` and
//! `build::check` (lowering included) and must come back with diagnostics or objects, never a
//! panic. Specs from pull requests are untrusted, so this is the compiler's half of "never a
//! panic" (the parser has its own property test in `lang/tests/proptest.rs`).
//!
//! Deterministic: a fixed xorshift seed per file, so CI is reproducible;
//! `KILN_MUTATIONS=N` runs more cases per file (default 20).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use kiln_compiler::source::MemoryLoader;
use kiln_compiler::{Options, build, compile};
use kiln_lang::testing::{Edit, kiln_files, mutate};

/// A small deterministic generator (xorshift64*): no dependency, same cases everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

const INSERTS: &[char] = &[
    '{', '}', '[', ']', '(', ')', '"', '\n', ',', '=', ':', '#', '$', '.', '-', 'x', ' ', '<', '>', '|',
];

fn edits(rng: &mut Rng) -> Vec<Edit> {
    (0..1 + rng.below(4))
        .map(|_| match rng.below(3) {
            0 => Edit::Delete(rng.next() as usize, 1 + rng.below(20)),
            1 => Edit::Duplicate(rng.next() as usize, 1 + rng.below(40)),
            _ => Edit::Insert(rng.next() as usize, INSERTS[rng.below(INSERTS.len() as u64)]),
        })
        .collect()
}

#[test]
fn mutated_examples_never_crash_the_compiler() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = kiln_files(&root.join("examples/team"));
    files.extend(kiln_files(&root.join("examples/kinds")));
    files.extend(kiln_files(&root.join("examples/upstream")));
    assert!(files.len() >= 60, "examples not found under {}", root.display());
    let cases: usize = std::env::var("KILN_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut failures = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let original = std::fs::read_to_string(file).expect("read example");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
        for _ in 0..cases {
            let text = mutate(original.clone(), &edits(&mut rng));
            // Checking runs on its own thread, whose panic comes back as an internal error
            // (K0901); lowering runs here.
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let loader = MemoryLoader::new().with("main.kiln", &text);
                let compiled = compile(&loader, &["main.kiln".to_string()], &Options::default());
                let mut diagnostics = compiled.diagnostics.clone();
                diagnostics.extend(build::check(&compiled, None));
                diagnostics.iter().any(|d| d.code.id == "K0901")
            }));
            if !matches!(outcome, Ok(false)) {
                failures.push(format!("{}:\n{text}", file.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "the compiler panicked on:\n{}",
        failures.join("\n---\n")
    );
}
