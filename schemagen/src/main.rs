//! `kiln-schemagen`: regenerates `stdlib/schemas/` (run by `scripts/gen-schemas.sh`).
//!
//! Reads `$KILN_SHARED` (default `../shared`) and the Kubernetes API of the project's own
//! kube-apiserver (started through `kiln-testsupport`, i.e. `scripts/control-plane.sh`).
//! `--check` compares instead of writing and exits 1 on any difference.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let root = kiln_testsupport::workspace_root();
    let shared = match kiln_testsupport::shared_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("kiln-schemagen: {e}");
            return ExitCode::from(2);
        }
    };
    let core = match kiln_schemagen::fetch_core_from_cluster().await {
        Ok(Some(docs)) => docs,
        Ok(None) => {
            eprintln!("kiln-schemagen: no kube-apiserver available (see scripts/control-plane.sh)");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("kiln-schemagen: {e}");
            return ExitCode::from(2);
        }
    };
    let out = match kiln_schemagen::generate(&kiln_schemagen::Inputs { shared, core }) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kiln-schemagen: {e}");
            return ExitCode::from(2);
        }
    };
    if check {
        let stale = kiln_schemagen::stale(&root, &out);
        if stale.is_empty() {
            return ExitCode::SUCCESS;
        }
        for s in stale {
            eprintln!("stale: {s}");
        }
        return ExitCode::from(1);
    }
    if let Err(e) = kiln_schemagen::write(&root, &out) {
        eprintln!("kiln-schemagen: {e}");
        return ExitCode::from(2);
    }
    let bytes: usize = out.values().map(String::len).sum();
    println!(
        "wrote {} modules ({bytes} bytes) to {}",
        out.len(),
        kiln_schemagen::OUT_DIR
    );
    ExitCode::SUCCESS
}
