//! Rendering a plan for people (text, optionally coloured) and machines (JSON), and the
//! `--detailed-exitcode` convention (0 no changes, 2 changes, 1 error).

use crate::plan::{Action, Change, Plan, Summary};
use serde::Serialize;
use std::fmt::Write as _;

/// The summary line.
pub fn summary_line(s: &Summary) -> String {
    let mut line = format!(
        "Plan: {} to create, {} to update, {} to recreate, {} to prune, {} unchanged",
        s.create, s.update, s.recreate, s.prune, s.unchanged
    );
    for (n, what) in [
        (s.keep_protected, "kept (protected)"),
        (s.skip, "skipped"),
        (s.blocked, "blocked"),
    ] {
        if n > 0 {
            let _ = write!(line, ", {n} {what}");
        }
    }
    line.push('.');
    line
}

/// How [`render_text_with`] renders.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextStyle {
    /// ANSI colours (green additions, red removals) for terminals.
    pub color: bool,
    /// Creates with their whole manifest (`--show-creates`); else one line each.
    pub show_creates: bool,
}

/// Text with creates as one line each (see [`render_text_with`]).
pub fn render_text(plan: &Plan, color: bool) -> String {
    render_text_with(
        plan,
        TextStyle {
            color,
            show_creates: false,
        },
    )
}

/// One change's line: `Kind/ns/name action`, a create's summary after a colon, then the reason.
pub fn change_line(c: &Change) -> String {
    match &c.summary {
        Some(summary) if c.action == Action::Create => {
            let mut line = format!("{} {}: {summary}", c.id, c.action.as_str());
            if let Some(r) = &c.reason {
                let _ = write!(line, " ({r})");
            }
            line
        }
        _ => c.to_string(),
    }
}

/// Text: one line per object, then the diffs of objects that change (updates always; creates
/// only with `show_creates`, since a new object's diff is its whole manifest), then the summary.
pub fn render_text_with(plan: &Plan, style: TextStyle) -> String {
    let color = style.color;
    let mut out = String::new();
    for c in &plan.changes {
        let line = change_line(c);
        let painted = match (color, c.action) {
            (false, _) => line,
            (true, Action::Create) => format!("\x1b[32m{line}\x1b[0m"),
            (true, Action::Update | Action::Recreate) => format!("\x1b[33m{line}\x1b[0m"),
            (true, Action::Prune | Action::Blocked) => format!("\x1b[31m{line}\x1b[0m"),
            (true, _) => format!("\x1b[2m{line}\x1b[0m"),
        };
        out.push_str(&painted);
        out.push('\n');
    }
    let shown = |c: &&Change| !c.diff.is_empty() && (style.show_creates || c.action != Action::Create);
    for c in plan.changes.iter().filter(shown) {
        out.push('\n');
        for line in c.diff.lines() {
            let painted = match (color, line.chars().next()) {
                (true, Some('+')) if !line.starts_with("+++") => format!("\x1b[32m{line}\x1b[0m"),
                (true, Some('-')) if !line.starts_with("---") => format!("\x1b[31m{line}\x1b[0m"),
                (true, Some('@')) => format!("\x1b[36m{line}\x1b[0m"),
                _ => line.to_string(),
            };
            out.push_str(&painted);
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str(&summary_line(&plan.summary()));
    out.push('\n');
    out
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    summary: Summary,
    has_changes: bool,
    blocked: bool,
    #[serde(flatten)]
    plan: &'a Plan,
}

/// JSON (`--output json`): summary plus every change; diffs are the masked text (a create's
/// is its whole manifest), and creates carry their one-line `summary` too.
pub fn render_json(plan: &Plan) -> String {
    serde_json::to_string_pretty(&JsonPlan {
        summary: plan.summary(),
        has_changes: plan.has_changes(),
        blocked: plan.is_blocked(),
        plan,
    })
    .expect("plans serialise")
}

#[derive(Serialize)]
struct JsonReport<'a> {
    success: bool,
    summary: Summary,
    #[serde(flatten)]
    report: &'a crate::reconcile::Report,
}

/// JSON of an apply's result (`kiln apply --output json`): whether it succeeded, the plan's
/// counts, what was applied and pruned, every error as data, and the plan it carried out.
pub fn render_report_json(report: &crate::reconcile::Report) -> String {
    serde_json::to_string_pretty(&JsonReport {
        success: report.success(),
        summary: report.plan.summary(),
        report,
    })
    .expect("reports serialise")
}

/// `--detailed-exitcode`: 0 when nothing would change, 2 when something would, 1 on error
/// (including a plan with blocked changes, which cannot be applied as reviewed).
pub fn detailed_exit_code<E>(result: &Result<Plan, E>) -> i32 {
    match result {
        Err(_) => 1,
        Ok(p) if p.is_blocked() => 1,
        Ok(p) if p.has_changes() => 2,
        Ok(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{ApplySetRef, Inventory};
    use crate::object::Manifest;
    use crate::plan::{LiveState, PlanPolicy, plan};
    use serde_json::json;

    fn sample() -> Plan {
        let m = Manifest::new(json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"n"},"data":{"k":"v"}})).unwrap();
        plan(
            &[m],
            &LiveState::default(),
            &Inventory::empty(ApplySetRef::new("t", "kiln-system")),
            &PlanPolicy::default(),
        )
        .unwrap()
    }

    #[test]
    fn text_has_lines_diff_and_summary() {
        let t = render_text(&sample(), false);
        assert!(t.starts_with("ConfigMap/n/a create: 1 key\n"), "{t}");
        assert!(!t.contains("+  k: v"), "a create is one line unless asked: {t}");
        let full = render_text_with(
            &sample(),
            TextStyle {
                color: false,
                show_creates: true,
            },
        );
        assert!(full.contains("+  k: v"), "{full}");
        assert!(
            t.trim_end()
                .ends_with("Plan: 1 to create, 0 to update, 0 to recreate, 0 to prune, 0 unchanged."),
            "{t}"
        );
        assert!(render_text(&sample(), true).contains("\x1b[32m"));
    }

    #[test]
    fn json_form() {
        let v: serde_json::Value = serde_json::from_str(&render_json(&sample())).unwrap();
        assert_eq!(v["summary"]["create"], 1);
        assert_eq!(v["has_changes"], true);
        assert_eq!(v["changes"][0]["action"], "create");
        assert_eq!(v["changes"][0]["id"]["kind"], "ConfigMap");
        assert_eq!(v["changes"][0]["summary"], "1 key");
        assert!(v["changes"][0]["diff"].as_str().unwrap().contains("+  k: v"));
    }

    #[test]
    fn exit_codes() {
        let p = sample();
        assert_eq!(detailed_exit_code::<()>(&Ok(p.clone())), 2);
        let mut none = p.clone();
        none.changes.clear();
        assert_eq!(detailed_exit_code::<()>(&Ok(none)), 0);
        let mut blocked = p;
        blocked.changes[0].action = Action::Blocked;
        assert_eq!(detailed_exit_code::<()>(&Ok(blocked)), 1);
        assert_eq!(detailed_exit_code::<&str>(&Err("x")), 1);
    }
}
