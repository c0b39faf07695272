//! Raw API requests that keep what kube-rs hides: the HTTP status and the `Warning` headers.
//!
//! kube-rs 5 does not surface the API server's `Warning` response headers (deprecations,
//! unknown fields under `fieldValidation=Warn`, ...), so tests that must see them send the
//! request through [`kube::Client::send`] and read the headers themselves.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::Client;
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::{self, Scope};
use serde_json::Value;

/// The server's answer to one request.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// HTTP status code.
    pub status: u16,
    /// The `Warning` header texts, without the `299 - "..."` wrapping.
    pub warnings: Vec<String>,
    /// The response body as JSON (`Value::Null` when empty or not JSON).
    pub body: Value,
}

impl Outcome {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The `message` of a `Status` body, or the body itself.
    pub fn message(&self) -> String {
        match self.body.get("message").and_then(Value::as_str) {
            Some(m) => m.to_string(),
            None => self.body.to_string(),
        }
    }
}

/// Sends one request and returns status, warnings and body.
///
/// # Errors
/// Transport errors only; HTTP error statuses are returned in the [`Outcome`].
pub async fn send(
    client: &Client,
    method: http::Method,
    path_and_query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<Outcome, kube::Error> {
    let request = http::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::ACCEPT, "application/json")
        .body(kube::client::Body::from(body))
        .map_err(kube::Error::HttpError)?;
    let response = client.send(request).await?;
    let status = response.status().as_u16();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| parse_warning(&String::from_utf8_lossy(v.as_bytes())))
        .collect();
    let bytes = response.into_body().collect_bytes().await?;
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Outcome {
        status,
        warnings,
        body,
    })
}

/// `299 - "text"` -> `text` (RFC 7234 warn-code, warn-agent, quoted warn-text).
pub fn parse_warning(header: &str) -> String {
    let h = header.trim();
    let rest = h
        .strip_prefix("299")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('-'))
        .map(str::trim);
    match rest {
        Some(r) if r.len() >= 2 && r.starts_with('"') && r.ends_with('"') => {
            r[1..r.len() - 1].replace("\\\"", "\"").replace("\\\\", "\\")
        }
        _ => h.to_string(),
    }
}

/// A resolved kind: where its objects live in the API.
#[derive(Debug, Clone)]
pub struct ResolvedKind {
    /// Group, version, plural.
    pub resource: ApiResource,
    /// Whether objects of the kind live in a namespace.
    pub namespaced: bool,
}

impl ResolvedKind {
    /// `/api/v1[/namespaces/NS]/PLURAL` or `/apis/G/V[/namespaces/NS]/PLURAL`.
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        let mut path = if self.resource.group.is_empty() {
            format!("/api/{}", self.resource.version)
        } else {
            format!("/apis/{}/{}", self.resource.group, self.resource.version)
        };
        if let (true, Some(ns)) = (self.namespaced, namespace) {
            path.push_str("/namespaces/");
            path.push_str(ns);
        }
        path.push('/');
        path.push_str(&self.resource.plural);
        path
    }
}

/// Resolves `apiVersion` + `kind` through discovery, with a small per-process cache and a few
/// retries (discovery can lag a moment behind a freshly Established CRD).
///
/// # Errors
/// When the server does not know the kind.
pub async fn resolve(client: &Client, api_version: &str, kind: &str) -> Result<ResolvedKind, String> {
    static CACHE: Mutex<Option<HashMap<(String, String), ResolvedKind>>> = Mutex::new(None);
    let key = (api_version.to_string(), kind.to_string());
    if let Some(hit) = CACHE
        .lock()
        .expect("cache lock")
        .get_or_insert_with(HashMap::new)
        .get(&key)
    {
        return Ok(hit.clone());
    }
    let (group, version) = match api_version.rsplit_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let mut last_error = String::new();
    for attempt in 0..5u64 {
        match discovery::pinned_kind(client, &gvk).await {
            Ok((resource, caps)) => {
                let resolved = ResolvedKind {
                    resource,
                    namespaced: caps.scope == Scope::Namespaced,
                };
                CACHE
                    .lock()
                    .expect("cache lock")
                    .get_or_insert_with(HashMap::new)
                    .insert(key, resolved.clone());
                return Ok(resolved);
            }
            Err(e) => last_error = e.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200 * (attempt + 1))).await;
    }
    Err(format!(
        "the API server does not serve {api_version} {kind}: {last_error}"
    ))
}

/// What to do with one manifest in a dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRunVerb {
    /// Server-side apply (`PATCH`, `application/apply-patch+yaml`): objects with a name.
    Apply,
    /// Create (`POST`): objects with only `metadata.generateName`, which apply cannot address.
    Create,
}

/// Sends `object` to the server as a dry run with strict field validation and field manager
/// `field_manager`: server-side apply when it has a name, create when it has only a
/// `generateName`. Namespaced objects are put into `namespace` (any namespace they name is
/// replaced); cluster-scoped objects lose theirs.
///
/// # Errors
/// When the object has no apiVersion/kind/name, its kind is unknown, or the transport fails.
/// A rejection by the server is an `Ok` outcome with a non-2xx status.
pub async fn dry_run(
    client: &Client,
    object: &Value,
    namespace: &str,
    field_manager: &str,
) -> Result<(DryRunVerb, Outcome), String> {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or("no apiVersion")?;
    let kind = object.get("kind").and_then(Value::as_str).ok_or("no kind")?;
    let kind_info = resolve(client, api_version, kind).await?;
    let mut object = object.clone();
    let metadata = object
        .as_object_mut()
        .ok_or("not a mapping")?
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()))
        .as_object_mut()
        .ok_or("metadata is not a mapping")?;
    if kind_info.namespaced {
        metadata.insert("namespace".into(), Value::String(namespace.into()));
    } else {
        metadata.remove("namespace");
    }
    let name = metadata.get("name").and_then(Value::as_str).map(str::to_string);
    let has_generate_name = metadata.get("generateName").is_some();
    let query = format!(
        "dryRun=All&fieldValidation=Strict&fieldManager={}",
        url_escape(field_manager)
    );
    let collection = kind_info.collection_path(Some(namespace));
    let body = serde_json::to_vec(&object).map_err(|e| e.to_string())?;
    let (verb, method, uri, content_type) = match (name, has_generate_name) {
        (Some(name), _) => (
            DryRunVerb::Apply,
            http::Method::PATCH,
            format!("{collection}/{}?{query}", url_escape(&name)),
            "application/apply-patch+yaml",
        ),
        (None, true) => (
            DryRunVerb::Create,
            http::Method::POST,
            format!("{collection}?{query}"),
            "application/json",
        ),
        (None, false) => return Err("metadata has neither name nor generateName".into()),
    };
    let outcome = send(client, method, &uri, content_type, body)
        .await
        .map_err(|e| e.to_string())?;
    Ok((verb, outcome))
}

/// Percent-encodes everything outside the URL-unreserved set.
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{parse_warning, url_escape};

    #[test]
    fn warnings_are_unwrapped() {
        assert_eq!(
            parse_warning(r#"299 - "unknown field \"spec.foo\"""#),
            r#"unknown field "spec.foo""#
        );
        assert_eq!(parse_warning("something else"), "something else");
    }

    #[test]
    fn escapes_query_values() {
        assert_eq!(url_escape("kiln"), "kiln");
        assert_eq!(url_escape("a b/c"), "a%20b%2Fc");
    }
}
