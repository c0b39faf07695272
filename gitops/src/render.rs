//! Plans between commits as text (terminal), Markdown (a pull-request comment) and JSON (bots).
//!
//! Markdown is kept under [`COMMENT_LIMIT`] characters (GitHub refuses comments above 65,536):
//! the summary tables always come first; each app gets a collapsible section with its diffs, or,
//! when those no longer fit, a list of its objects without diffs, or finally only a line in the
//! note at the end, which says what was left out and how to see all of it. The comment starts
//! with [`COMMENT_MARKER`], which CI uses to find and update its one comment per pull request.

use std::fmt::Write;

use crate::resources::{Usage, format_cpu, format_memory};
use crate::review::{AppPlan, ChangeKind, ReviewPlan};

/// Hidden first line of every Markdown plan (docs/ci.md finds the comment by it).
pub const COMMENT_MARKER: &str = "<!-- kiln-plan -->";
/// The longest Markdown output.
pub const COMMENT_LIMIT: usize = 65_000;

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

fn counts(app: &AppPlan) -> [usize; 4] {
    let mut c = [0; 4];
    for ch in &app.changes {
        c[match ch.change {
            ChangeKind::Added => 0,
            ChangeKind::Changed => 1,
            ChangeKind::NewRun => 2,
            ChangeKind::Removed => 3,
        }] += 1;
    }
    c
}

fn counts_phrase(app: &AppPlan) -> String {
    let [a, c, r, d] = counts(app);
    if app.failed {
        return "does not compile".to_string();
    }
    if a + c + r + d == 0 {
        return "no changes".to_string();
    }
    let mut parts = Vec::new();
    for (n, w) in [(a, "added"), (c, "changed"), (r, "new run(s)"), (d, "removed")] {
        if n > 0 {
            parts.push(format!("{n} {w}"));
        }
    }
    parts.join(", ")
}

fn gpus(u: &Usage) -> String {
    if u.gpus.is_empty() {
        return "0".to_string();
    }
    u.gpus
        .iter()
        .map(|(m, n)| format!("{}{n} {m}", if *n > 0 { "+" } else { "" }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn signed_cpu(m: i128) -> String {
    if m > 0 {
        format!("+{}", format_cpu(m))
    } else {
        format_cpu(m)
    }
}

fn signed_mem(b: i128) -> String {
    if b > 0 {
        format!("+{}", format_memory(b))
    } else {
        format_memory(b)
    }
}

fn money(x: f64) -> String {
    if x > 0.0 {
        format!("+${x:.2}")
    } else if x < 0.0 {
        format!("-${:.2}", -x)
    } else {
        "$0.00".to_string()
    }
}

fn recompiled(app: &AppPlan) -> &'static str {
    match app.head {
        crate::incremental::Provenance::Compiled => "yes",
        crate::incremental::Provenance::Reused => "no (unchanged)",
        crate::incremental::Provenance::Cached => "no (cached)",
    }
}

/// The plan for a terminal.
pub fn render_text(plan: &ReviewPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan {} ({}) -> {} ({})",
        plan.base.spec,
        short(&plan.base.commit),
        plan.head.spec,
        short(&plan.head.commit)
    );
    if !plan.project_diagnostics.is_empty() {
        let _ = writeln!(out, "\nThe head's kiln.toml has errors: nothing is planned.\n");
        out.push_str(&plan.project_diagnostics);
        return out;
    }
    if plan.failed {
        let _ = writeln!(out, "\nThe head commit does not compile: nothing is planned.");
    }
    for app in &plan.apps {
        let _ = writeln!(
            out,
            "\napp {}: {} (recompiled: {})",
            app.name,
            counts_phrase(app),
            recompiled(app)
        );
        if app.failed || !app.rendered.is_empty() {
            out.push_str(&app.rendered);
        }
        for c in &app.changes {
            let _ = write!(out, "  {:<2} {}", c.change.symbol(), c.id);
            if let Some(old) = &c.replaces {
                let _ = write!(out, " (replaces run {old})");
            }
            out.push('\n');
            for line in c
                .diff
                .lines()
                .filter(|l| !l.starts_with("---") && !l.starts_with("+++"))
            {
                let _ = writeln!(out, "       {line}");
            }
        }
    }
    if !plan.failed {
        resources_text(plan, &mut out);
    }
    let t = plan.totals();
    let _ = writeln!(
        out,
        "\n{} app(s), {} with changes, {} recompiled: {} added, {} changed, {} new run(s), {} removed.",
        t.apps, t.apps_changed, t.apps_recompiled, t.added, t.changed, t.new_runs, t.removed
    );
    out
}

fn resources_text(plan: &ReviewPlan, out: &mut String) {
    if !plan.resources.is_empty() {
        let _ = writeln!(out, "\nResources (head - base):");
        for r in &plan.resources {
            let _ = writeln!(
                out,
                "  {:<24} cpu {:>8}  memory {:>8}  gpus {}  cost/h {}",
                if r.namespace.is_empty() {
                    "(cluster)"
                } else {
                    &r.namespace
                },
                signed_cpu(r.delta.cpu_milli),
                signed_mem(r.delta.memory_bytes),
                gpus(&r.delta),
                money(r.cost_delta_per_hour)
            );
        }
    }
    if plan.cost.delta_per_hour != 0.0 || plan.cost.head_per_hour != 0.0 {
        let _ = writeln!(
            out,
            "Cost per hour: ${:.2} -> ${:.2} ({})",
            plan.cost.base_per_hour,
            plan.cost.head_per_hour,
            money(plan.cost.delta_per_hour)
        );
    }
    if !plan.cost.unpriced.is_empty() {
        let _ = writeln!(out, "No NodePool prices: {}", plan.cost.unpriced.join(", "));
    }
    if !plan.quotas.is_empty() {
        let _ = writeln!(out, "\nQuota headroom (head):");
        for q in &plan.quotas {
            let _ = writeln!(
                out,
                "  {:<24} {:<28} {} of {} used, {} left{}",
                q.profile,
                q.resource,
                q.used,
                q.hard,
                q.headroom,
                if q.exceeded { "  EXCEEDED" } else { "" }
            );
        }
    }
}

/// The plan as a pull-request comment (module docs).
pub fn render_markdown(plan: &ReviewPlan) -> String {
    render_markdown_within(plan, COMMENT_LIMIT)
}

/// [`render_markdown`] with another limit (tests).
pub fn render_markdown_within(plan: &ReviewPlan, limit: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{COMMENT_MARKER}");
    let _ = writeln!(
        out,
        "### kiln plan: `{}` ({}) → `{}` ({})\n",
        plan.base.spec,
        short(&plan.base.commit),
        plan.head.spec,
        short(&plan.head.commit)
    );
    if !plan.project_diagnostics.is_empty() {
        let _ = writeln!(
            out,
            "**The head's `kiln.toml` has errors: nothing is planned.**\n"
        );
        fenced(&mut out, "text", &clip(&plan.project_diagnostics, limit / 2));
        return out;
    }
    let t = plan.totals();
    if plan.failed {
        let _ = writeln!(out, "**The head commit does not compile: nothing is planned.**\n");
    } else {
        let _ = writeln!(
            out,
            "{} app(s), {} with changes: **{} added, {} changed, {} new run(s), {} removed**.\n",
            t.apps, t.apps_changed, t.added, t.changed, t.new_runs, t.removed
        );
    }
    let _ = writeln!(out, "| app | added | changed | new runs | removed | recompiled |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---|");
    for app in &plan.apps {
        let [a, c, r, d] = counts(app);
        if app.failed {
            let _ = writeln!(
                out,
                "| {} | ❌ does not compile | | | | {} |",
                app.name,
                recompiled(app)
            );
        } else {
            let _ = writeln!(
                out,
                "| {} | {a} | {c} | {r} | {d} | {} |",
                app.name,
                recompiled(app)
            );
        }
    }
    out.push('\n');
    if !plan.failed {
        resources_markdown(plan, &mut out);
    }
    // Sections, most detailed first, as long as they fit; the note needs some room.
    let reserve = 600;
    let mut compact = Vec::new();
    let mut omitted = Vec::new();
    for app in plan.apps.iter().filter(|a| a.failed || !a.changes.is_empty()) {
        let full = section(app, true);
        if out.len() + full.len() + reserve <= limit {
            out.push_str(&full);
            continue;
        }
        let brief = section(app, false);
        if out.len() + brief.len() + reserve <= limit {
            out.push_str(&brief);
            compact.push(app.name.as_str());
        } else {
            omitted.push(app.name.as_str());
        }
    }
    if !compact.is_empty() || !omitted.is_empty() {
        let _ = writeln!(out, "> **This plan is longer than a comment can hold.**");
        if !compact.is_empty() {
            let _ = writeln!(out, "> Diffs left out for: {}.", list(&compact, 20));
        }
        if !omitted.is_empty() {
            let _ = writeln!(out, "> Sections left out for: {}.", list(&omitted, 20));
        }
        let _ = writeln!(
            out,
            "> See all of it with `kiln plan --git-base {} --git-head {} [--app NAME]`, or in the JSON plan (`--output json`) kept by CI.",
            plan.base.commit, plan.head.commit
        );
    }
    out
}

fn list(names: &[&str], at_most: usize) -> String {
    let shown: Vec<String> = names.iter().take(at_most).map(|n| format!("`{n}`")).collect();
    if names.len() > at_most {
        format!("{} and {} more", shown.join(", "), names.len() - at_most)
    } else {
        shown.join(", ")
    }
}

fn section(app: &AppPlan, diffs: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<details><summary><b>{}</b>: {}</summary>\n",
        app.name,
        counts_phrase(app)
    );
    if app.failed {
        fenced(&mut s, "text", &clip(&app.rendered, 20_000));
    }
    for c in &app.changes {
        let _ = write!(s, "- `{}` {} `{}`", c.change.symbol(), c.change.word(), c.id);
        if let Some(old) = &c.replaces {
            let _ = write!(s, " (replaces run `{old}`)");
        }
        if !c.fields.is_empty() && c.fields.len() <= 8 {
            let fields: Vec<String> = c.fields.iter().map(|f| format!("`{}`", f.path)).collect();
            let _ = write!(s, ": {}", fields.join(", "));
        } else if c.fields.len() > 8 {
            let _ = write!(s, ": {} fields", c.fields.len());
        }
        s.push('\n');
    }
    if diffs {
        let body: String = app
            .changes
            .iter()
            .filter(|c| !c.diff.is_empty())
            .map(|c| c.diff.clone())
            .collect();
        if !body.is_empty() {
            s.push('\n');
            fenced(&mut s, "diff", &body);
        }
    }
    s.push_str("\n</details>\n\n");
    s
}

fn fenced(out: &mut String, lang: &str, body: &str) {
    // A fence longer than any backtick run inside, so content cannot close it.
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(
        out,
        "{fence}{lang}\n{}{}{fence}",
        body,
        if body.ends_with('\n') { "" } else { "\n" }
    );
}

fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n... ({} more characters)\n", &text[..end], text.len() - end)
}

fn resources_markdown(plan: &ReviewPlan, out: &mut String) {
    if !plan.resources.is_empty() {
        let _ = writeln!(
            out,
            "**Resources** (requests at declared replicas, head − base)\n"
        );
        let _ = writeln!(out, "| namespace | CPU | memory | GPUs | cost / hour |");
        let _ = writeln!(out, "|---|---:|---:|---|---:|");
        for r in &plan.resources {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                if r.namespace.is_empty() {
                    "(cluster)"
                } else {
                    &r.namespace
                },
                signed_cpu(r.delta.cpu_milli),
                signed_mem(r.delta.memory_bytes),
                gpus(&r.delta),
                money(r.cost_delta_per_hour)
            );
        }
        out.push('\n');
    }
    if plan.cost.delta_per_hour != 0.0 || plan.cost.head_per_hour != 0.0 {
        let _ = writeln!(
            out,
            "Cost per hour: ${:.2} → ${:.2} (**{}**)\n",
            plan.cost.base_per_hour,
            plan.cost.head_per_hour,
            money(plan.cost.delta_per_hour)
        );
    }
    if !plan.cost.unpriced.is_empty() {
        let _ = writeln!(
            out,
            "No NodePool declares a price for: {}.\n",
            plan.cost.unpriced.join(", ")
        );
    }
    if !plan.quotas.is_empty() {
        let _ = writeln!(out, "**Quota headroom** (after the head)\n");
        let _ = writeln!(out, "| profile | resource | used | hard | headroom |");
        let _ = writeln!(out, "|---|---|---:|---:|---:|");
        for q in &plan.quotas {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {}{} |",
                q.profile,
                q.resource,
                q.used,
                q.hard,
                q.headroom,
                if q.exceeded { " ⚠️ exceeded" } else { "" }
            );
        }
        out.push('\n');
    }
}

/// The plan as JSON (the versioned shape of docs/gitops.md).
pub fn render_json(plan: &ReviewPlan) -> String {
    let mut v = serde_json::to_value(plan).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert(
            "totals".into(),
            serde_json::to_value(plan.totals()).unwrap_or_default(),
        );
    }
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}
