//! Fields a lowering target does not carry: one table, one check, for every kind.
//!
//! kiln's promise is that nothing the user wrote is silently dropped: every field of every
//! ML-level kind either reaches the manifest of the target it lowers to, or gets a diagnostic
//! naming the field and the target. The kind lowerings use what they can; what a target has no
//! place for is listed in [`RULES`] with the reason, and [`report_unsupported`] reports every
//! listed field the user set: an error (K0417) when the output would do something else than the
//! spec says, a warning (K0418) when leaving the field out is harmless.
//!
//! The table is kept honest by `compiler/tests/field_coverage.rs`, which enumerates the fields
//! of every lowered stdlib type from `stdlib/*.kiln`, sets each one, and fails unless the output
//! changes or a diagnostic on that field appears: a new field that neither reaches the output
//! nor is listed here fails that test.

use kiln_lang::Code;
use serde_json::Value;

use super::{LowerError, LowerInput, codes, kind_of};

/// When a rule applies: always, or when a field of the object has (or lacks) a value.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Always,
    /// `field == value` (a string field; an absent field counts as its default `default`).
    Is {
        field: &'static str,
        value: &'static str,
        default: &'static str,
    },
    /// `field != value`.
    IsNot {
        field: &'static str,
        value: &'static str,
        default: &'static str,
    },
}

impl Target {
    fn holds(self, v: &Value) -> bool {
        let get = |field: &str, default: &'static str| -> String {
            v.get(field)
                .and_then(Value::as_str)
                .unwrap_or(default)
                .to_string()
        };
        match self {
            Target::Always => true,
            Target::Is {
                field,
                value,
                default,
            } => get(field, default) == value,
            Target::IsNot {
                field,
                value,
                default,
            } => get(field, default) != value,
        }
    }
}

/// One field a target does not carry.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// The last segment of the stdlib type (`Pipeline`, `TrainingJob`).
    pub kind: &'static str,
    pub when: Target,
    /// The field as a path of keys from the object; `*` stands for every key of a map or
    /// element of a list (`steps.*.timeout`).
    pub field: &'static str,
    /// The target, as the message names it (`the KFP engine`).
    pub target: &'static str,
    /// Why it is not carried and what to do instead: the help line.
    pub help: &'static str,
    /// An error when the output would be wrong without the field; a warning when harmless.
    pub error: bool,
}

/// The pipelines that run on Argo.
const fn argo() -> Target {
    Target::Is {
        field: "engine",
        value: "argo",
        default: "kfp",
    }
}

/// Every field a target does not carry. Keep each entry's help a full sentence that says what
/// to write instead.
pub const RULES: &[Rule] = &[
    Rule {
        kind: "Pipeline",
        when: Target::Is {
            field: "engine",
            value: "kfp",
            default: "kfp",
        },
        field: "timezone",
        target: "the KFP engine",
        help: "a KFP ScheduledWorkflow has no time zone and runs its cron schedule in the controller's \
               zone (UTC on most clusters): write the schedule in UTC, or use `engine = \"argo\"`, \
               whose CronWorkflow has one",
        error: true,
    },
    Rule {
        kind: "Pipeline",
        when: Target::Is {
            field: "engine",
            value: "kfp",
            default: "kfp",
        },
        field: "on_exit.when",
        target: "the KFP engine's exit handler",
        help: "KFP's exit task runs whatever happened and has no condition: use `engine = \"argo\"`, \
               where the handler may test `workflow.status`, or test the outcome in the handler's command",
        error: true,
    },
    Rule {
        kind: "Pipeline",
        when: Target::Always,
        field: "on_exit.for_each",
        target: "the exit handler",
        help: "the exit handler runs once, when the pipeline ends, whatever happened: test \
               `workflow.status` inside it (Argo), or move the condition, loop or ordering into a \
               step of the pipeline",
        error: true,
    },
    Rule {
        kind: "Pipeline",
        when: Target::Always,
        field: "on_exit.group",
        target: "the exit handler",
        help: "the exit handler runs once, when the pipeline ends, whatever happened: test \
               `workflow.status` inside it (Argo), or move the condition, loop or ordering into a \
               step of the pipeline",
        error: true,
    },
    Rule {
        kind: "Pipeline",
        when: Target::Always,
        field: "on_exit.after",
        target: "the exit handler",
        help: "the exit handler runs once, when the pipeline ends, whatever happened: test \
               `workflow.status` inside it (Argo), or move the condition, loop or ordering into a \
               step of the pipeline",
        error: true,
    },
    Rule {
        kind: "Pipeline",
        when: Target::Is {
            field: "engine",
            value: "kfp",
            default: "kfp",
        },
        field: "steps.*.outputs.*.s3",
        target: "the KFP engine",
        help: "KFP keeps artifacts in its own artifact store under keys it chooses; to write a \
               fixed S3 key, copy the file there in the step, or use `engine = \"argo\"`",
        error: true,
    },
    Rule {
        kind: "Pipeline",
        when: Target::Is {
            field: "engine",
            value: "kfp",
            default: "kfp",
        },
        field: "templates.*.outputs.*.s3",
        target: "the KFP engine",
        help: "KFP keeps artifacts in its own artifact store under keys it chooses; to write a \
               fixed S3 key, copy the file there in the step, or use `engine = \"argo\"`",
        error: true,
    },
    Rule {
        kind: "Pipeline",
        when: Target::Is {
            field: "engine",
            value: "kfp",
            default: "kfp",
        },
        field: "templates.*.steps.*.outputs.*.s3",
        target: "the KFP engine",
        help: "KFP keeps artifacts in its own artifact store under keys it chooses; to write a \
               fixed S3 key, copy the file there in the step, or use `engine = \"argo\"`",
        error: true,
    },
    Rule {
        kind: "Pipeline",
        when: Target::Is {
            field: "engine",
            value: "kfp",
            default: "kfp",
        },
        field: "on_exit.outputs.*.s3",
        target: "the KFP engine",
        help: "KFP keeps artifacts in its own artifact store under keys it chooses; to write a \
               fixed S3 key, copy the file there in the step, or use `engine = \"argo\"`",
        error: true,
    },
    Rule {
        kind: "Pipeline",
        when: Target::Is {
            field: "engine",
            value: "kfp",
            default: "kfp",
        },
        field: "steps.*.inputs.*.path",
        target: "the KFP engine",
        help: "KFP places input artifacts itself: read the path with `$(inputs.NAME.path)`",
        error: false,
    },
    Rule {
        kind: "Pipeline",
        when: Target::Is {
            field: "engine",
            value: "kfp",
            default: "kfp",
        },
        field: "templates.*.inputs.*.path",
        target: "the KFP engine",
        help: "KFP places input artifacts itself: read the path with `$(inputs.NAME.path)`",
        error: false,
    },
    Rule {
        kind: "Pipeline",
        when: Target::Is {
            field: "engine",
            value: "kfp",
            default: "kfp",
        },
        field: "templates.*.steps.*.inputs.*.path",
        target: "the KFP engine",
        help: "KFP places input artifacts itself: read the path with `$(inputs.NAME.path)`",
        error: false,
    },
    Rule {
        kind: "Pipeline",
        when: Target::Is {
            field: "engine",
            value: "kfp",
            default: "kfp",
        },
        field: "on_exit.inputs.*.path",
        target: "the KFP engine",
        help: "KFP places input artifacts itself: read the path with `$(inputs.NAME.path)`",
        error: false,
    },
    Rule {
        kind: "Pipeline",
        when: argo(),
        field: "steps.*.outputs.*.description",
        target: "the Argo engine",
        help: "Argo's template outputs carry no description (KFP's component outputs do): keep \
               it as a comment next to the output",
        error: false,
    },
    Rule {
        kind: "Pipeline",
        when: argo(),
        field: "templates.*.outputs.*.description",
        target: "the Argo engine",
        help: "Argo's template outputs carry no description (KFP's component outputs do): keep \
               it as a comment next to the output",
        error: false,
    },
    Rule {
        kind: "Pipeline",
        when: argo(),
        field: "templates.*.steps.*.outputs.*.description",
        target: "the Argo engine",
        help: "Argo's template outputs carry no description (KFP's component outputs do): keep \
               it as a comment next to the output",
        error: false,
    },
    Rule {
        kind: "Pipeline",
        when: argo(),
        field: "on_exit.outputs.*.description",
        target: "the Argo engine",
        help: "Argo's template outputs carry no description (KFP's component outputs do): keep \
               it as a comment next to the output",
        error: false,
    },
    Rule {
        kind: "TrainingRuntime",
        when: Target::Is {
            field: "policy",
            value: "plain",
            default: "torch",
        },
        field: "procs_per_node",
        target: "a runtime with the `plain` policy",
        help: "a plain runtime has no ML policy to start several processes per node: use \
               `policy = \"torch\"` or `\"mpi\"`, or start the processes in the container's command",
        error: true,
    },
    Rule {
        kind: "Experiment",
        when: Target::Always,
        field: "trial.Training.job.exact_name",
        target: "a trial job",
        help: "Katib names each trial's job after the trial; to keep the experiment's own name as \
               written, set `exact_name` on the Experiment",
        error: false,
    },
    Rule {
        kind: "Experiment",
        when: Target::Always,
        field: "trial.Trainer.job.exact_name",
        target: "a trial job",
        help: "Katib names each trial's job after the trial; to keep the experiment's own name as \
               written, set `exact_name` on the Experiment",
        error: false,
    },
    Rule {
        kind: "TrainingJob",
        when: Target::Always,
        field: "metrics",
        target: "a training job emitted on its own",
        help: "`metrics` is checked against a Katib experiment's objective when the job is its \
               trial (`kf.training_trial(job)`); on its own the job has nothing to check it against",
        error: false,
    },
];

/// K0417 / K0418 for every field of `input` that [`RULES`] lists for its target and the user set.
pub fn report_unsupported(input: &LowerInput, errs: &mut Vec<LowerError>) {
    let kind = kind_of(input.ty);
    for rule in RULES.iter().filter(|r| r.kind == kind) {
        if !rule.when.holds(input.value) {
            continue;
        }
        let segments: Vec<&str> = rule.field.split('.').collect();
        let mut found = Vec::new();
        set_fields(input.value, &segments, String::new(), &mut found);
        for pointer in found {
            errs.push(problem(rule, kind, &pointer));
        }
    }
}

fn problem(rule: &Rule, kind: &str, pointer: &str) -> LowerError {
    let (code, verb): (Code, &str) = if rule.error {
        (codes::FIELD_NOT_SUPPORTED, "is not supported by")
    } else {
        (codes::FIELD_HAS_NO_EFFECT, "has no effect on")
    };
    let field = pointer.trim_start_matches('/').replace('/', ".");
    let e = LowerError::new(
        code,
        pointer,
        format!("`{field}` of a {kind} {verb} {}", rule.target),
    )
    .with_help(rule.help);
    if rule.error { e } else { e.warning() }
}

/// The JSON pointers of the set fields at `path` under `v` (`*` expands to every entry).
fn set_fields(v: &Value, path: &[&str], at: String, out: &mut Vec<String>) {
    let Some((first, rest)) = path.split_first() else {
        if is_set(v) {
            out.push(at);
        }
        return;
    };
    match (*first, v) {
        ("*", Value::Object(m)) => {
            for (k, x) in m {
                set_fields(x, rest, super::ptr(&at, k), out);
            }
        }
        ("*", Value::Array(l)) => {
            for (i, x) in l.iter().enumerate() {
                set_fields(x, rest, format!("{at}/{i}"), out);
            }
        }
        (key, Value::Object(m)) => {
            if let Some(x) = m.get(key) {
                set_fields(x, rest, super::ptr(&at, key), out);
            }
        }
        _ => {}
    }
}

/// Whether the user gave the field a value: evaluated values carry defaults, so an empty list,
/// an empty map, `false` and `""` count as unset.
fn is_set(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::String(s) => !s.is_empty(),
        Value::Array(l) => !l.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::Number(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_listed_field_is_reported_for_its_target_only() {
        let v = json!({"engine": "kfp", "timezone": "Europe/Paris", "steps": {}});
        let input = LowerInput {
            ty: "pipeline.Pipeline",
            name: "p",
            value: &v,
        };
        let mut errs = Vec::new();
        report_unsupported(&input, &mut errs);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].code, codes::FIELD_NOT_SUPPORTED);
        assert_eq!(errs[0].pointer, "/timezone");
        assert_eq!(
            errs[0].message,
            "`timezone` of a Pipeline is not supported by the KFP engine"
        );
        let argo = json!({"engine": "argo", "timezone": "Europe/Paris"});
        let mut errs = Vec::new();
        report_unsupported(
            &LowerInput {
                ty: "pipeline.Pipeline",
                name: "p",
                value: &argo,
            },
            &mut errs,
        );
        assert!(errs.is_empty());
    }

    #[test]
    fn a_harmless_field_is_a_warning_and_keeps_the_output() {
        let v = json!({"framework": "pytorch", "image": "ghcr.io/acme/resnet:3.1", "workers": 2, "metrics": ["accuracy"]});
        let input = LowerInput {
            ty: "training.TrainingJob",
            name: "resnet",
            value: &v,
        };
        let mut errs = Vec::new();
        report_unsupported(&input, &mut errs);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].code, codes::FIELD_HAS_NO_EFFECT);
        assert!(!errs[0].is_error());
    }

    #[test]
    fn wildcards_reach_every_entry() {
        let v = json!({"steps": {"a": {"t": 1}, "b": {}, "c": {"t": 2}}});
        let mut out = Vec::new();
        set_fields(&v, &["steps", "*", "t"], String::new(), &mut out);
        assert_eq!(out, vec!["/steps/a/t", "/steps/c/t"]);
    }
}
