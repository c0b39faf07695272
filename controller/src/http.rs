//! The HTTP endpoints on `--listen`: `POST /webhook`, `GET /status`, `/metrics`, `/healthz`,
//! `/readyz`.
//!
//! A webhook is authenticated before anything else is looked at: GitHub's
//! `X-Hub-Signature-256` (HMAC-SHA256 of the body with the shared secret) or GitLab's
//! `X-Gitlab-Token` (the secret itself), both compared in constant time. A bad or missing
//! signature, or no secret configured, is 401 and nothing is fetched. Bodies over
//! [`MAX_BODY`] are 413. An authenticated push to the followed branch wakes the loop (202);
//! any other event, or a push to another branch, is ignored with 202 too, so a hook configured for
//! more events than it needs does not show up as failing on the forge.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::Shared;

/// Largest webhook body accepted (GitHub caps payloads at 25 MB; a push event is far smaller).
pub const MAX_BODY: usize = 1024 * 1024;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/webhook", post(webhook))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// Which forge sent a webhook, told apart by its headers.
#[derive(Debug, PartialEq, Eq)]
pub enum Forge {
    GitHub,
    GitLab,
}

/// The outcome of authenticating a webhook.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Authentic: the forge and its event name.
    Authentic {
        forge: Forge,
        event: String,
    },
    Refused(&'static str),
}

/// Checks the signature or token of a webhook against `secret` (pure, for unit tests).
pub fn authenticate(headers: &HeaderMap, body: &[u8], secret: Option<&[u8]>) -> Verdict {
    let Some(secret) = secret else {
        return Verdict::Refused("no webhook secret is configured (--webhook-secret-file)");
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(sig) = header("x-hub-signature-256") {
        let Some(hex) = sig.strip_prefix("sha256=") else {
            return Verdict::Refused("X-Hub-Signature-256 is not `sha256=<hex>`");
        };
        let Some(given) = decode_hex(hex) else {
            return Verdict::Refused("X-Hub-Signature-256 is not hexadecimal");
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
            return Verdict::Refused("the webhook secret is unusable");
        };
        mac.update(body);
        // `verify_slice` compares in constant time.
        if mac.verify_slice(&given).is_err() {
            return Verdict::Refused("the signature does not match");
        }
        return Verdict::Authentic {
            forge: Forge::GitHub,
            event: header("x-github-event").unwrap_or_default().to_string(),
        };
    }
    if let Some(token) = header("x-gitlab-token") {
        if !bool::from(token.as_bytes().ct_eq(secret)) {
            return Verdict::Refused("the token does not match");
        }
        return Verdict::Authentic {
            forge: Forge::GitLab,
            event: header("x-gitlab-event").unwrap_or_default().to_string(),
        };
    }
    Verdict::Refused("no X-Hub-Signature-256 or X-Gitlab-Token header")
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether an authentic event is a push to `branch`.
pub fn is_push_to(forge: &Forge, event: &str, body: &[u8], branch: &str) -> bool {
    let push = match forge {
        Forge::GitHub => event == "push",
        Forge::GitLab => event == "Push Hook",
    };
    if !push {
        return false;
    }
    let reference = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["ref"].as_str().map(str::to_string));
    // No `ref`: fetch anyway, it only costs a fetch.
    reference.is_none_or(|r| r == format!("refs/heads/{branch}"))
}

async fn webhook(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let (forge, event) = match authenticate(&headers, &body, shared.webhook_secret.as_deref()) {
        Verdict::Authentic { forge, event } => (forge, event),
        Verdict::Refused(why) => return (StatusCode::UNAUTHORIZED, format!("{why}\n")).into_response(),
    };
    {
        let mut s = shared.status.write().await;
        s.webhooks += 1;
        s.last_webhook = Some(crate::status::now());
    }
    if is_push_to(&forge, &event, &body, &shared.branch) {
        shared.pushed.store(true, std::sync::atomic::Ordering::SeqCst);
        shared.wake.notify_one();
        (StatusCode::ACCEPTED, "push received: fetching\n").into_response()
    } else {
        (StatusCode::ACCEPTED, "event ignored\n").into_response()
    }
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    let mut status = shared.status.read().await.clone();
    if let Some(p) = shared.publisher.get() {
        status.writes.annotations = p.annotations.load(std::sync::atomic::Ordering::Relaxed);
        status.writes.events = p.events.load(std::sync::atomic::Ordering::Relaxed);
    }
    axum::Json(status).into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
        .into_response()
}

async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    if shared.status.read().await.ready {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the first fetch and compile have not succeeded yet\n",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        let bytes = mac.finalize().into_bytes();
        format!(
            "sha256={}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }

    #[test]
    fn github_signature_is_checked() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let good = headers(&[
            ("x-hub-signature-256", &sign(b"s3cret", body)),
            ("x-github-event", "push"),
        ]);
        assert_eq!(
            authenticate(&good, body, Some(b"s3cret")),
            Verdict::Authentic {
                forge: Forge::GitHub,
                event: "push".into()
            }
        );
        assert!(matches!(
            authenticate(&good, body, Some(b"other")),
            Verdict::Refused(_)
        ));
        assert!(matches!(
            authenticate(&good, b"tampered", Some(b"s3cret")),
            Verdict::Refused(_)
        ));
        assert!(matches!(authenticate(&good, body, None), Verdict::Refused(_)));
        let bad = headers(&[("x-hub-signature-256", "sha256=zz")]);
        assert!(matches!(
            authenticate(&bad, body, Some(b"s3cret")),
            Verdict::Refused(_)
        ));
        assert!(matches!(
            authenticate(&HeaderMap::new(), body, Some(b"s3cret")),
            Verdict::Refused(_)
        ));
    }

    #[test]
    fn gitlab_token_is_checked() {
        let h = headers(&[("x-gitlab-token", "s3cret"), ("x-gitlab-event", "Push Hook")]);
        assert!(matches!(
            authenticate(&h, b"{}", Some(b"s3cret")),
            Verdict::Authentic {
                forge: Forge::GitLab,
                ..
            }
        ));
        assert!(matches!(
            authenticate(&h, b"{}", Some(b"s3cre")),
            Verdict::Refused(_)
        ));
    }

    #[test]
    fn only_pushes_to_the_branch_wake_the_loop() {
        assert!(is_push_to(
            &Forge::GitHub,
            "push",
            br#"{"ref":"refs/heads/main"}"#,
            "main"
        ));
        assert!(!is_push_to(
            &Forge::GitHub,
            "push",
            br#"{"ref":"refs/heads/dev"}"#,
            "main"
        ));
        assert!(!is_push_to(&Forge::GitHub, "issues", b"{}", "main"));
        assert!(is_push_to(
            &Forge::GitLab,
            "Push Hook",
            br#"{"ref":"refs/heads/main"}"#,
            "main"
        ));
        assert!(!is_push_to(&Forge::GitLab, "Tag Push Hook", b"{}", "main"));
    }
}
