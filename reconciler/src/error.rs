//! Errors as one paragraph each: which object, what kiln was doing, the cause in plain words,
//! and what to do about it.
//!
//! Raw `kube::Error`s are classified once, here, into a [`Cause`] (unreachable cluster,
//! rejected credentials, RBAC denial, admission webhook denial, field-manager conflict,
//! immutable field, invalid object, kind not served, timeout). Conflicts keep the other
//! manager's name and the fields it owns, parsed from the apiserver's message.

use crate::object::ObjectId;
use serde::Serialize;
use std::fmt;

/// A failed API response, kept as data so the pure planner can reason about dry-run results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiFailure {
    /// HTTP status code.
    pub code: u16,
    /// The Status `reason` (`Conflict`, `Invalid`, `Forbidden`, ...).
    pub reason: String,
    /// The Status message.
    pub message: String,
}

/// Who owns which fields, from an apply conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagerConflict {
    pub manager: String,
    pub fields: Vec<String>,
}

/// Why something failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "cause", rename_all = "kebab-case")]
pub enum Cause {
    /// No connection to the API server.
    Unreachable { detail: String },
    /// 401 or a credential plugin failure.
    Unauthorized { detail: String },
    /// 403 from RBAC.
    Forbidden { detail: String },
    /// An admission webhook (or policy) denied the request.
    WebhookDenied { detail: String },
    /// Another field manager owns fields kiln wants to set.
    Conflict {
        conflicts: Vec<ManagerConflict>,
        detail: String,
    },
    /// An update touched an immutable field.
    Immutable { detail: String },
    /// The object is invalid for its schema.
    Invalid { detail: String },
    /// The API server does not serve the kind.
    KindNotServed { detail: String },
    /// Waiting ran out of time.
    Timeout { detail: String },
    /// Anything else.
    Other { detail: String },
}

impl Cause {
    /// Classifies a failed API response.
    pub fn from_failure(f: &ApiFailure) -> Cause {
        let detail = f.message.clone();
        let lower = f.message.to_ascii_lowercase();
        // Webhooks say "admission webhook .. denied the request"; ValidatingAdmissionPolicies
        // say "ValidatingAdmissionPolicy '..' [with binding '..'] denied request", with code 422
        // (reason Invalid) or whatever reason the policy sets, so the text decides, not the code.
        if lower.contains("admission webhook")
            || lower.contains("denied the request")
            || (lower.contains("admissionpolicy '") && lower.contains("denied request"))
        {
            return Cause::WebhookDenied { detail };
        }
        match f.code {
            401 => Cause::Unauthorized { detail },
            403 => Cause::Forbidden { detail },
            409 if lower.contains("conflict with") || lower.contains("conflicts with") => Cause::Conflict {
                conflicts: parse_conflicts(&f.message),
                detail,
            },
            422 if lower.contains("immutable") => Cause::Immutable { detail },
            400 | 422 => Cause::Invalid { detail },
            404 if f.reason == "NotFound" && lower.contains("the server could not find") => {
                Cause::KindNotServed { detail }
            }
            _ => Cause::Other {
                detail: if detail.is_empty() {
                    format!("HTTP {} {}", f.code, f.reason)
                } else {
                    detail
                },
            },
        }
    }

    /// Classifies a client error.
    pub fn from_kube(e: &kube::Error) -> Cause {
        match e {
            kube::Error::Api(status) => Cause::from_failure(&ApiFailure {
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            }),
            kube::Error::Auth(a) => Cause::Unauthorized {
                detail: a.to_string(),
            },
            // The transport's own chain, without kube's `HyperError:`/`ServiceError:` prefix.
            kube::Error::HyperError(inner) => Cause::Unreachable {
                detail: error_chain(inner),
            },
            kube::Error::Service(inner) => Cause::Unreachable {
                detail: error_chain(inner.as_ref()),
            },
            kube::Error::Discovery(d) => Cause::KindNotServed {
                detail: d.to_string(),
            },
            other => Cause::Other {
                detail: error_chain(other),
            },
        }
    }

    /// Whether this failure ends the run: every further request would fail the same way
    /// (the cluster is unreachable or the credentials were rejected).
    pub fn ends_run(&self) -> bool {
        matches!(self, Cause::Unreachable { .. } | Cause::Unauthorized { .. })
    }

    fn explain(&self) -> String {
        match self {
            Cause::Unreachable { detail } => format!(
                "the Kubernetes API server could not be reached ({detail}). Check that the cluster is running and that the kubeconfig/context points at it; re-running converges"
            ),
            Cause::Unauthorized { detail } => format!(
                "the API server rejected kiln's credentials (401 Unauthorized: {detail}). The token or client certificate is missing or expired; log in again or refresh the kubeconfig"
            ),
            Cause::Forbidden { detail } => format!(
                "RBAC denied the request (403 Forbidden: {detail}). Grant the identity kiln runs as this verb on this resource, or apply with an identity that has it"
            ),
            Cause::WebhookDenied { detail } => format!(
                "an admission webhook or policy rejected the object: {detail}. Change the spec to satisfy that policy, or ask its owners"
            ),
            Cause::Conflict { conflicts, detail } => {
                let who: Vec<String> = conflicts
                    .iter()
                    .map(|c| format!("manager {:?} owns {}", c.manager, c.fields.join(", ")))
                    .collect();
                let who = if who.is_empty() {
                    detail.clone()
                } else {
                    who.join("; ")
                };
                format!(
                    "another field manager owns fields kiln wants to set ({who}). Remove those fields from the spec, have that manager release them, or re-run with --force-conflicts to take ownership"
                )
            }
            Cause::Immutable { detail } => format!(
                "the change touches an immutable field ({detail}). kiln does not retry this; give the object a new name, or allow a delete-and-recreate (which loses its state) explicitly"
            ),
            Cause::Invalid { detail } => format!("the API server rejected the object as invalid: {detail}"),
            Cause::KindNotServed { detail } => format!(
                "the cluster does not serve this kind ({detail}). Install its CRD (or include it in the spec) and re-run"
            ),
            Cause::Timeout { detail } => detail.clone(),
            Cause::Other { detail } => detail.clone(),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        let text = cause.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        src = cause.source();
    }
    s
}

/// Parses `Apply failed with 2 conflicts: conflicts with "m" using v1:\n- .a\n- .b` and the
/// one-conflict form `conflict with "m" using v1: .a`.
pub fn parse_conflicts(message: &str) -> Vec<ManagerConflict> {
    let mut out: Vec<ManagerConflict> = Vec::new();
    for line in message.lines() {
        let line = line.trim();
        if let Some(pos) = line.find("with \"")
            && (line[..pos].ends_with("conflict ") || line[..pos].ends_with("conflicts "))
        {
            let rest = &line[pos + 6..];
            let Some(end) = rest.find('"') else { continue };
            let manager = rest[..end].to_string();
            let after = &rest[end + 1..];
            // Single-conflict form: the field follows the last ": " on the same line.
            let fields = match after.rsplit_once(": ") {
                Some((_, f)) if !f.trim().is_empty() => vec![f.trim().to_string()],
                _ => vec![],
            };
            out.push(ManagerConflict { manager, fields });
        } else if let Some(field) = line.strip_prefix("- ")
            && let Some(last) = out.last_mut()
        {
            last.fields.push(field.trim().to_string());
        }
    }
    out
}

/// One failure, about one object (or about the whole run when `object` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconcileError {
    /// Boxed to keep `Result<_, ReconcileError>` small.
    pub object: Option<Box<ObjectId>>,
    /// What kiln was doing: "list", "dry-run apply", "apply", "delete", "wait", ...
    pub operation: String,
    #[serde(flatten)]
    pub cause: Cause,
    /// How many more objects were not applied for the same run-ending cause (folded into this
    /// error by [`fold_run_ending`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub more: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Folds the failures with the run-ending cause of the first one ([`Cause::ends_run`]) into
/// that first one, which counts them together with the `not_sent` objects; other failures stay
/// as they are. An API server lost mid-apply is then one paragraph, not one per object.
pub fn fold_run_ending(errors: Vec<ReconcileError>, not_sent: usize) -> Vec<ReconcileError> {
    let mut out: Vec<ReconcileError> = Vec::with_capacity(errors.len());
    let mut first: Option<usize> = None;
    let mut more = not_sent;
    for e in errors {
        match first {
            Some(i) if std::mem::discriminant(&e.cause) == std::mem::discriminant(&out[i].cause) => more += 1,
            None if e.cause.ends_run() => {
                first = Some(out.len());
                out.push(e);
            }
            _ => out.push(e),
        }
    }
    if let Some(i) = first {
        out[i].more += more;
    }
    out
}

impl ReconcileError {
    /// An error about one object.
    pub fn object(id: &ObjectId, operation: &str, cause: Cause) -> ReconcileError {
        ReconcileError {
            object: Some(Box::new(id.clone())),
            operation: operation.into(),
            cause,
            more: 0,
        }
    }

    /// An error about the run as a whole.
    pub fn run(operation: &str, cause: Cause) -> ReconcileError {
        ReconcileError {
            object: None,
            operation: operation.into(),
            cause,
            more: 0,
        }
    }

    /// From a client error.
    pub fn kube(id: Option<&ObjectId>, operation: &str, e: &kube::Error) -> ReconcileError {
        ReconcileError {
            object: id.cloned().map(Box::new),
            operation: operation.into(),
            cause: Cause::from_kube(e),
            more: 0,
        }
    }
}

impl fmt::Display for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Details quoted from the server or an object's status often end a sentence already.
        let explained = self.cause.explain();
        let cause = explained.trim_end_matches('.');
        match &self.object {
            Some(id) => write!(f, "{id}: {} failed: {cause}.", self.operation)?,
            None => write!(f, "{} failed: {cause}.", self.operation)?,
        }
        match self.more {
            0 => Ok(()),
            1 => write!(f, " 1 more object was not applied for the same reason."),
            n => write!(f, " {n} more objects were not applied for the same reason."),
        }
    }
}

impl std::error::Error for ReconcileError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: u16, reason: &str, message: &str) -> ApiFailure {
        ApiFailure {
            code,
            reason: reason.into(),
            message: message.into(),
        }
    }

    #[test]
    fn conflict_names_manager_and_fields() {
        let one = failure(
            409,
            "Conflict",
            "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .data.key",
        );
        let cause = Cause::from_failure(&one);
        assert_eq!(
            cause,
            Cause::Conflict {
                conflicts: vec![ManagerConflict {
                    manager: "kubectl-edit".into(),
                    fields: vec![".data.key".into()]
                }],
                detail: one.message.clone()
            }
        );
        let many = "Apply failed with 3 conflicts: conflicts with \"helm\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"app\"].image\nconflict with \"hpa\": .spec.minReplicas";
        let parsed = parse_conflicts(many);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].manager, "helm");
        assert_eq!(parsed[0].fields.len(), 2);
        assert_eq!(parsed[1].fields, [".spec.minReplicas"]);
        let err = ReconcileError::object(
            &ObjectId::from_value(&serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"t"}})).unwrap(),
            "apply",
            cause,
        );
        let text = err.to_string();
        assert!(
            text.starts_with("ConfigMap/t/c: apply failed: another field manager"),
            "{text}"
        );
        assert!(text.contains("\"kubectl-edit\" owns .data.key"), "{text}");
        assert!(text.contains("--force-conflicts"), "{text}");
        assert!(!text.contains('\n'), "one paragraph: {text}");
        let quoted = ReconcileError::run(
            "wait",
            Cause::Other {
                detail: "the job failed.".into(),
            },
        );
        assert_eq!(quoted.to_string(), "wait failed: the job failed.");
    }

    #[test]
    fn run_ending_failures_fold_into_the_first() {
        let id = |name: &str| {
            ObjectId::from_value(&serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":"t"}})).unwrap()
        };
        let unreachable = |name: &str| {
            ReconcileError::object(
                &id(name),
                "apply",
                Cause::Unreachable {
                    detail: "tcp connect error: Connection refused (os error 111)".into(),
                },
            )
        };
        let invalid = ReconcileError::object(
            &id("bad"),
            "apply",
            Cause::Invalid {
                detail: "data: x".into(),
            },
        );
        let folded = fold_run_ending(
            vec![
                invalid.clone(),
                unreachable("a"),
                unreachable("b"),
                unreachable("c"),
            ],
            5,
        );
        assert_eq!(folded.len(), 2, "{folded:#?}");
        assert_eq!(folded[0], invalid);
        assert_eq!(folded[1].more, 7);
        let text = folded[1].to_string();
        assert!(
            text.starts_with("ConfigMap/t/a: apply failed: the Kubernetes API server could not be reached (tcp connect error: Connection refused (os error 111)).")
                && text.ends_with("re-running converges. 7 more objects were not applied for the same reason."),
            "{text}"
        );
        assert!(!text.contains('\n'), "one paragraph: {text}");
        // Nothing run-ending: nothing folded.
        assert_eq!(fold_run_ending(vec![invalid.clone()], 0), [invalid]);
    }

    #[test]
    fn classification() {
        assert!(matches!(
            Cause::from_failure(&failure(401, "Unauthorized", "Unauthorized")),
            Cause::Unauthorized { .. }
        ));
        assert!(matches!(
            Cause::from_failure(&failure(
                403,
                "Forbidden",
                "configmaps is forbidden: User \"x\" cannot patch"
            )),
            Cause::Forbidden { .. }
        ));
        assert!(matches!(
            Cause::from_failure(&failure(
                400,
                "BadRequest",
                "admission webhook \"validate.kserve.io\" denied the request: bad storageUri"
            )),
            Cause::WebhookDenied { .. }
        ));
        for (code, reason) in [(422, "Invalid"), (403, "Forbidden")] {
            assert!(matches!(
                Cause::from_failure(&failure(
                    code,
                    reason,
                    "configmaps \"c\" is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: no"
                )),
                Cause::WebhookDenied { .. }
            ));
        }
        assert!(matches!(
            Cause::from_failure(&failure(
                422,
                "Invalid",
                "PersistentVolumeClaim \"ws\" is invalid: spec: Forbidden: spec is immutable after creation"
            )),
            Cause::Immutable { .. }
        ));
        assert!(matches!(
            Cause::from_failure(&failure(422, "Invalid", "data: Invalid value")),
            Cause::Invalid { .. }
        ));
    }
}
