//! The `kiln` binary (stub; the CLI is written next).
fn main() {}
