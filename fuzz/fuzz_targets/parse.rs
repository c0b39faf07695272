//! Fuzz target: any UTF-8 input must parse and format without panicking, and formatting (when
//! the input has no syntax errors) must keep the AST and be idempotent.
//! Run with `cargo fuzz run parse` from the repository root (see fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = kiln_lang::parse(kiln_lang::FileId(0), source);
    std::hint::black_box(&parsed);
    if kiln_lang::format::format_source(kiln_lang::FileId(0), source).is_ok() {
        if let Err(problem) = kiln_lang::testing::check_format(source) {
            panic!("{problem}");
        }
    }
});
