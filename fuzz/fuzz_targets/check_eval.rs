//! Fuzz target: whole compilations (load, check, evaluation under a budget, lowering, output,
//! rendering) of generated kiln programs, or of source text when the first byte is 0. See
//! `kiln_fuzz::check_eval` for what must hold. Run with `cargo fuzz run check_eval` from the
//! repository root (see fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| kiln_fuzz::check_eval(data));
