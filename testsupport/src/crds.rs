//! Installing the reference CRDs of `$KILN_SHARED/crds` into the test cluster.
//!
//! Every CustomResourceDefinition found under the folder (recursively, multi-document YAML)
//! is server-side applied with field manager `kiln-testsupport` and `force`, then awaited
//! until its `Established` condition is true. Afterwards the ConfigMap
//! `default/kiln-testsupport-crds` records a digest of the CRD files; a later test binary (or
//! run) that finds the same digest there does nothing more, so only the first one pays for
//! parsing and sending ~25 MB of schemas. Applying the same content concurrently from several
//! test binaries is safe: server-side apply is idempotent, and the marker is written only
//! after every CRD is Established. CRDs carry an annotation with the digest of what was
//! applied, and an unchanged CRD is not sent again.
//!
//! Raw requests with `serde_json::Value` bodies are used instead of typed `Api` calls: typed
//! CRD objects of this size take seconds to (de)serialise in unoptimised test builds.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use http::Method;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

use crate::manifests;
use crate::raw::{self, Outcome};

/// Field manager used for installing CRDs.
const FIELD_MANAGER: &str = "kiln-testsupport";
/// How long to wait for all CRDs to become Established.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(120);
/// How many CRDs are applied at once.
const APPLY_CONCURRENCY: usize = 2;
/// Annotation with the digest of the applied CRD document: an unchanged CRD is not sent
/// again (even a no-op apply of a 3 MB CRD costs the API server seconds of CPU).
const DIGEST_ANNOTATION: &str = "kiln.dev/testsupport-digest";
/// Path of the CRD collection.
const CRDS_PATH: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
/// The marker ConfigMap.
const MARKER_PATH: &str = "/api/v1/namespaces/default/configmaps/kiln-testsupport-crds";

/// The shared reference data folder: `$KILN_SHARED`, else `../shared` next to the workspace.
///
/// # Errors
/// When the folder does not exist; the message names the path that was tried.
pub fn shared_dir() -> Result<PathBuf, String> {
    let (dir, how) = match std::env::var_os("KILN_SHARED").filter(|v| !v.is_empty()) {
        Some(d) => (PathBuf::from(d), "from KILN_SHARED"),
        None => (
            crate::workspace_root().join("..").join("shared"),
            "the default ../shared next to the workspace; set KILN_SHARED to override",
        ),
    };
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!(
            "the shared reference folder {} ({how}) does not exist",
            dir.display()
        ))
    }
}

/// Installs every CRD under `$KILN_SHARED/crds` and waits until all are Established.
/// Runs once per process; later calls return the first result.
///
/// Returns the names of the CRDs.
///
/// # Errors
/// A missing folder, an unreadable file, a rejected CRD, or a timeout, as text.
pub async fn install_crds(client: &Client) -> Result<Vec<String>, String> {
    static ONCE: tokio::sync::OnceCell<Result<Vec<String>, String>> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| install_crds_uncached(client)).await.clone()
}

async fn get(client: &Client, path: &str) -> Result<Outcome, String> {
    raw::send(client, Method::GET, path, "application/json", Vec::new())
        .await
        .map_err(|e| format!("GET {path}: {e}"))
}

async fn apply(client: &Client, path: &str, object: &Value) -> Result<(), String> {
    let body = serde_json::to_vec(object).map_err(|e| e.to_string())?;
    let uri = format!("{path}?fieldManager={FIELD_MANAGER}&force=true&fieldValidation=Strict");
    let outcome = raw::send(client, Method::PATCH, &uri, "application/apply-patch+yaml", body)
        .await
        .map_err(|e| format!("PATCH {path}: {e}"))?;
    if outcome.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}: {}", outcome.status, outcome.message()))
    }
}

async fn install_crds_uncached(client: &Client) -> Result<Vec<String>, String> {
    let dir = shared_dir()?.join("crds");
    if !dir.is_dir() {
        return Err(format!("CRD folder {} does not exist", dir.display()));
    }
    let files = manifests::manifest_files(&dir);

    // Fast path: the marker names this exact set of files (paths and contents).
    let mut hasher = blake3::Hasher::new();
    for file in &files {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let rel = file.strip_prefix(&dir).unwrap_or(file);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let set_digest = hasher.finalize().to_hex().to_string();
    let marker = get(client, MARKER_PATH).await?;
    if marker.is_success() && marker.body["data"]["digest"] == set_digest.as_str() {
        let names = marker.body["data"]["names"].as_str().unwrap_or_default();
        return Ok(names.split_whitespace().map(str::to_string).collect());
    }

    let mut crds: Vec<(String, Value)> = Vec::new();
    for file in &files {
        for doc in manifests::load_file(file).map_err(|e| format!("{}: {e}", file.display()))? {
            if doc.value.get("kind").and_then(Value::as_str) != Some("CustomResourceDefinition") {
                continue;
            }
            let name = doc.value["metadata"]["name"]
                .as_str()
                .ok_or_else(|| format!("{}: a CRD without metadata.name", file.display()))?
                .to_string();
            crds.push((name, doc.value));
        }
    }
    if crds.is_empty() {
        return Err(format!(
            "no CustomResourceDefinition found under {}",
            dir.display()
        ));
    }

    let names: Vec<String> = crds.iter().map(|(n, _)| n.clone()).collect();
    let existing: HashMap<String, String> = Api::<CustomResourceDefinition>::all(client.clone())
        .list_metadata(&ListParams::default())
        .await
        .map_err(|e| format!("listing CRDs: {e}"))?
        .items
        .into_iter()
        .filter_map(|c| {
            let digest = c.metadata.annotations?.remove(DIGEST_ANNOTATION)?;
            Some((c.metadata.name?, digest))
        })
        .collect();
    // The API server needs seconds per large CRD (Argo's are ~3 MB): a few at a time use
    // both cores.
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(APPLY_CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for (name, mut crd) in crds {
        // apply must not carry server-populated fields
        if let Some(meta) = crd["metadata"].as_object_mut() {
            meta.remove("creationTimestamp");
            meta.remove("resourceVersion");
        }
        if let Some(obj) = crd.as_object_mut() {
            obj.remove("status");
        }
        let digest = blake3::hash(&serde_json::to_vec(&crd).map_err(|e| e.to_string())?)
            .to_hex()
            .to_string();
        if existing.get(&name) == Some(&digest) {
            continue;
        }
        crd["metadata"]["annotations"][DIGEST_ANNOTATION] = Value::String(digest);
        let (client, permits) = (client.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
            apply(&client, &format!("{CRDS_PATH}/{name}"), &crd)
                .await
                .map_err(|e| format!("applying CRD {name}: {e}"))
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.map_err(|e| format!("CRD apply task: {e}"))??;
    }

    let deadline = Instant::now() + ESTABLISH_TIMEOUT;
    for name in &names {
        loop {
            let crd = get(client, &format!("{CRDS_PATH}/{name}")).await?;
            let established = crd.body["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            });
            if established {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "CRD {name} not Established after {}s (last answer: HTTP {})",
                    ESTABLISH_TIMEOUT.as_secs(),
                    crd.status
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    let marker = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kiln-testsupport-crds", "namespace": "default"},
        "data": {"digest": set_digest, "names": names.join(" ")},
    });
    apply(client, MARKER_PATH, &marker)
        .await
        .map_err(|e| format!("writing the CRD marker: {e}"))?;
    Ok(names)
}
