//! The repository's own specs are written as `kiln fmt` writes them: every `.kiln` file under
//! examples/ and stdlib/ passes `kiln fmt --check` (run by `cargo test`, so by `.ci/run`).

mod common;

use common::kiln;

#[test]
fn every_example_is_kiln_fmt_clean() {
    let out = kiln(&["fmt", "--check", "examples", "stdlib"]);
    assert_eq!(
        out.code, 0,
        "run `kiln fmt examples stdlib`; not formatted:\n{}{}",
        out.stdout, out.stderr
    );
}
