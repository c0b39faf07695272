//! The committed `stdlib/schemas/` is exactly what the generator makes from `$KILN_SHARED` and the
//! project's own kube-apiserver `/openapi/v3` (started through `kiln-testsupport`; no other network).
//! A difference fails with the stale files and the command that regenerates them.

#[tokio::test]
async fn committed_schema_modules_are_up_to_date() {
    let shared = match kiln_testsupport::shared_dir() {
        Ok(d) => d,
        Err(e) => panic!("{e}: the schema modules are generated from it"),
    };
    let Some(core) = kiln_schemagen::fetch_core_from_cluster()
        .await
        .unwrap_or_else(|e| panic!("fetching /openapi/v3: {e}"))
    else {
        return;
    };
    let out = kiln_schemagen::generate(&kiln_schemagen::Inputs { shared, core }).expect("generate");
    let stale = kiln_schemagen::stale(&kiln_testsupport::workspace_root(), &out);
    assert!(
        stale.is_empty(),
        "stdlib/schemas is stale ({}); run scripts/gen-schemas.sh",
        stale.join(", ")
    );
}
