//! Plans between commits of a real (local, bare) Git remote, with commits made by the test.

mod common;

use common::{FetchedSource, TestRepo, config_map};
use kiln_gitops::incremental::{BuildCache, Provenance};
use kiln_gitops::render::{COMMENT_LIMIT, render_json, render_markdown, render_markdown_within, render_text};
use kiln_gitops::review::{ChangeKind, Request, ReviewPlan, plan_commits};

fn plan(repo: &TestRepo, base: &str, head: &str) -> ReviewPlan {
    let source = repo.source();
    plan_commits(
        &source,
        &Request {
            base,
            head,
            app: None,
            paths: &[],
            schemas: None,
            cache: None,
        },
    )
    .expect("a plan")
}

const TWO_APPS: &str =
    "[[app]]\nname = \"team-a\"\npaths = [\"apps/a\"]\n\n[[app]]\nname = \"team-b\"\npaths = [\"apps/b\"]\n";

fn changes(plan: &ReviewPlan, app: &str) -> Vec<(ChangeKind, String)> {
    plan.apps
        .iter()
        .find(|a| a.name == app)
        .unwrap()
        .changes
        .iter()
        .map(|c| (c.change, c.id.clone()))
        .collect()
}

#[test]
fn objects_added_changed_and_removed_across_commits() {
    let mut repo = TestRepo::new("acr");
    repo.write("kiln.toml", TWO_APPS)
        .write(
            "apps/a/main.kiln",
            &config_map("flags", "team-a", &[("V2", "false")]),
        )
        .write("apps/a/old.kiln", &config_map("old", "team-a", &[("X", "1")]))
        .write("apps/b/main.kiln", &config_map("b", "team-b", &[("Y", "1")]));
    repo.commit("base");
    repo.write(
        "apps/a/main.kiln",
        &config_map("flags", "team-a", &[("V2", "true")]),
    )
    .remove("apps/a/old.kiln")
    .write("apps/a/new.kiln", &config_map("new", "team-a", &[("Z", "1")]));
    repo.commit("head");
    let plan = plan(&repo, "main~1", "main");
    assert!(!plan.failed);
    assert_eq!(
        changes(&plan, "team-a"),
        vec![
            (ChangeKind::Changed, "ConfigMap/team-a/flags".to_string()),
            (ChangeKind::Added, "ConfigMap/team-a/new".to_string()),
            (ChangeKind::Removed, "ConfigMap/team-a/old".to_string()),
        ]
    );
    assert_eq!(changes(&plan, "team-b"), vec![]);
    let flags = &plan.apps[0].changes[0];
    // Noise-free: only the data field, never the source line or the content hash.
    let paths: Vec<&str> = flags.fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, vec!["/data/V2"], "{:?}", flags.fields);
    assert!(
        flags.diff.contains("-  V2: 'false'") && flags.diff.contains("+  V2: 'true'"),
        "{}",
        flags.diff
    );
    assert!(!flags.diff.contains("kiln.dev/"), "{}", flags.diff);
    // team-b reads nothing that changed: not recompiled.
    let b = plan.apps.iter().find(|a| a.name == "team-b").unwrap();
    assert_eq!(b.head, Provenance::Reused);
    assert_eq!(plan.apps[0].head, Provenance::Compiled);
    assert_eq!(plan.detailed_exit_code(), 2);
}

#[test]
fn a_moved_source_line_is_no_change() {
    let mut repo = TestRepo::new("noise");
    repo.write("kiln.toml", "[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\n")
        .write("apps/a/main.kiln", &config_map("flags", "team-a", &[("V2", "1")]));
    repo.commit("base");
    let moved = config_map("flags", "team-a", &[("V2", "1")]).replace("\n\nkf.", "\n\n# a comment\n\nkf.");
    repo.write("apps/a/main.kiln", &moved);
    repo.commit("head");
    let plan = plan(&repo, "main~1", "main");
    assert_eq!(
        plan.apps[0].head,
        Provenance::Compiled,
        "the file changed, so it is recompiled"
    );
    assert!(plan.apps[0].changes.is_empty(), "{:?}", plan.apps[0].changes);
    assert_eq!(plan.detailed_exit_code(), 0);
}

#[test]
fn a_shared_module_change_replans_exactly_its_importers() {
    let mut repo = TestRepo::new("shared");
    let importer = |name: &str| {
        format!(
            "import \"kubeflow\" as kf\nimport \"../../lib/common.kiln\" as common\n\nkf.Object \"{name}\" = kf.config_map({{ IMAGE = common.image }}) with {{ namespace = \"{name}\" }}\n"
        )
    };
    repo.write(
        "kiln.toml",
        "[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\n\n[[app]]\nname = \"b\"\npaths = [\"apps/b\"]\n\n[[app]]\nname = \"c\"\npaths = [\"apps/c\"]\n",
    )
    .write("lib/common.kiln", "let image = \"ghcr.io/acme/base:1\"\n")
    .write("lib/other.kiln", "let unused = 1\n")
    .write("apps/a/main.kiln", &importer("a"))
    .write("apps/b/main.kiln", &importer("b"))
    .write("apps/c/main.kiln", &config_map("c", "c", &[("K", "v")]));
    repo.commit("base");
    repo.write("lib/common.kiln", "let image = \"ghcr.io/acme/base:2\"\n")
        .write("lib/other.kiln", "let unused = 2\n");
    repo.commit("bump the shared image");
    let plan = plan(&repo, "main~1", "main");
    let how: Vec<(&str, Provenance, usize)> = plan
        .apps
        .iter()
        .map(|a| (a.name.as_str(), a.head, a.changes.len()))
        .collect();
    assert_eq!(
        how,
        vec![
            ("a", Provenance::Compiled, 1),
            ("b", Provenance::Compiled, 1),
            ("c", Provenance::Reused, 0),
        ]
    );
    assert_eq!(plan.totals().apps_recompiled, 2);
}

#[test]
fn secret_values_never_reach_the_plan() {
    let mut repo = TestRepo::new("secret");
    let secret = |v: &str| {
        format!(
            "import \"kubeflow\" as kf\n\nkf.Object \"db\" {{\n  api_version = \"v1\"\n  kind = \"Secret\"\n  namespace = \"team-a\"\n  stringData = {{ password = \"{v}\", user = \"admin-user\" }}\n}}\n"
        )
    };
    repo.write("kiln.toml", "[[app]]\nname = \"a\"\npaths = [\"apps\"]\n")
        .write("apps/db.kiln", &secret("hunter2-old"));
    repo.commit("base");
    repo.write("apps/db.kiln", &secret("hunter2-new"));
    repo.commit("rotate");
    let plan = plan(&repo, "main~1", "main");
    let outputs = [render_text(&plan), render_markdown(&plan), render_json(&plan)];
    for out in &outputs {
        for secret in ["hunter2-old", "hunter2-new", "admin-user"] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
    }
    let change = &plan.apps[0].changes[0];
    assert_eq!(change.change, ChangeKind::Changed);
    assert!(
        change
            .fields
            .iter()
            .any(|f| f.path == "/stringData/password" && f.secret),
        "{:?}",
        change.fields
    );
    assert!(change.diff.contains("value changed"), "{}", change.diff);
}

#[test]
fn a_head_that_does_not_compile_plans_nothing() {
    let mut repo = TestRepo::new("broken");
    repo.write("kiln.toml", TWO_APPS)
        .write("apps/a/main.kiln", &config_map("flags", "team-a", &[("V2", "1")]))
        .write("apps/b/main.kiln", &config_map("b", "team-b", &[("Y", "1")]));
    repo.commit("base");
    repo.write(
        "apps/a/main.kiln",
        "import \"kubeflow\" as kf\n\nkf.Object \"flags\" = kf.config_mapp({})\n",
    )
    .write("apps/b/main.kiln", &config_map("b", "team-b", &[("Y", "2")]));
    repo.commit("typo");
    let plan = plan(&repo, "main~1", "main");
    assert!(plan.failed);
    assert_eq!(plan.detailed_exit_code(), 1);
    assert!(
        plan.apps.iter().all(|a| a.changes.is_empty()),
        "a failed head must plan nothing"
    );
    let a = &plan.apps[0];
    assert!(
        a.failed && a.diagnostics.iter().any(|d| d.code == "K0101"),
        "{:?}",
        a.diagnostics
    );
    let text = render_text(&plan);
    assert!(text.contains("does not compile: nothing is planned"), "{text}");
    assert!(
        text.contains("config_mapp"),
        "the head's diagnostics are shown: {text}"
    );
}

#[test]
fn imports_that_leave_the_repository_are_refused() {
    let mut repo = TestRepo::new("escape");
    repo.write("kiln.toml", "[[app]]\nname = \"a\"\npaths = [\"apps/a\"]\n")
        .write("apps/a/main.kiln", &config_map("x", "a", &[("K", "v")]));
    repo.commit("base");
    repo.write(
        "apps/a/main.kiln",
        "import \"../../../../../../etc/passwd.kiln\" as p\nimport \"./link.kiln\" as l\nimport \"./dir/x.kiln\" as d\n\nlet a = 1\n",
    )
    .symlink("apps/a/link.kiln", "/etc/hostname")
    .symlink("apps/a/dir", "../../..");
    repo.commit("escape");
    let plan = plan(&repo, "main~1", "main");
    assert!(plan.failed);
    let messages: Vec<&str> = plan.apps[0]
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    // The compiler's own confinement rules (compiler/src/source/confined.rs), with their codes.
    assert!(
        messages[0].contains("the path climbs out of the project root"),
        "{messages:?}"
    );
    // A refusal names the symlink as written in the repository, never where it points.
    assert!(
        messages[1].contains("`apps/a/link.kiln` is a symlink that leads outside the project"),
        "{messages:?}"
    );
    assert!(
        messages[2].contains("`apps/a/dir` is a symlink that leads outside the project"),
        "{messages:?}"
    );
    // The first names the import as the user wrote it (their own text); no refusal names
    // where a symlink points.
    assert!(
        messages.iter().all(|m| !m.contains("/etc/hostname"))
            && messages[1..].iter().all(|m| !m.contains("../../..")),
        "{messages:?}"
    );
    let codes: Vec<&str> = plan.apps[0].diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert!(
        codes.iter().all(|c| *c != "K0102"),
        "refusals have their own codes: {codes:?}"
    );
}

#[test]
fn a_symlink_inside_the_tree_is_followed() {
    let mut repo = TestRepo::new("inlink");
    repo.write("kiln.toml", "[[app]]\nname = \"a\"\npaths = [\"apps/a/main.kiln\"]\n")
        .write("lib/v.kiln", "let value = \"from-lib\"\n")
        .symlink("apps/a/v.kiln", "../../lib/v.kiln")
        .write(
            "apps/a/main.kiln",
            "import \"kubeflow\" as kf\nimport \"./v.kiln\" as v\n\nkf.Object \"x\" = kf.config_map({ K = v.value }) with { namespace = \"a\" }\n",
        );
    repo.commit("base");
    repo.write("lib/v.kiln", "let value = \"changed\"\n");
    repo.commit("head");
    let plan = plan(&repo, "main~1", "main");
    assert!(!plan.failed, "{}", plan.apps[0].rendered);
    assert_eq!(
        plan.apps[0].head,
        Provenance::Compiled,
        "the link's target is a dependency"
    );
    assert_eq!(plan.apps[0].changes.len(), 1);
}

#[test]
fn branches_tags_and_hashes_resolve() {
    let mut repo = TestRepo::new("refs");
    repo.write("kiln.toml", "[[app]]\nname = \"a\"\npaths = [\"apps\"]\n")
        .write("apps/x.kiln", &config_map("x", "a", &[("K", "1")]));
    let first = repo.commit("one");
    repo.tag("v1");
    repo.write("apps/x.kiln", &config_map("x", "a", &[("K", "2")]));
    repo.commit("two");
    let by_tag = plan(&repo, "v1", "main");
    let by_hash = plan(&repo, &first, "main");
    assert_eq!(by_tag.base.commit, first);
    assert_eq!(by_hash.base.commit, first);
    assert_eq!(by_tag.head.reference.as_deref(), Some("refs/remotes/origin/main"));
    assert_eq!(by_tag.apps[0].changes.len(), 1);
    let err = plan_commits(
        &repo.source(),
        &Request {
            base: "nope",
            head: "main",
            app: None,
            paths: &[],
            schemas: None,
            cache: None,
        },
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("`nope` is not a commit, branch or tag"),
        "{err}"
    );
}

#[test]
fn the_build_cache_makes_the_base_free() {
    let mut repo = TestRepo::new("cache");
    repo.write("kiln.toml", TWO_APPS)
        .write("apps/a/main.kiln", &config_map("a", "a", &[("K", "1")]))
        .write("apps/b/main.kiln", &config_map("b", "b", &[("K", "1")]));
    repo.commit("one");
    repo.write("apps/a/main.kiln", &config_map("a", "a", &[("K", "2")]));
    repo.commit("two");
    let source = repo.source();
    let cache = BuildCache::new(&repo.cache.join("builds"));
    let run = |base, head| {
        plan_commits(
            &source,
            &Request {
                base,
                head,
                app: None,
                paths: &[],
                schemas: None,
                cache: Some(&cache),
            },
        )
        .unwrap()
    };
    let first = run("main~1", "main");
    assert_eq!(first.apps[0].base, Provenance::Compiled);
    let second = run("main~1", "main");
    let how: Vec<(Provenance, Provenance)> = second.apps.iter().map(|a| (a.base, a.head)).collect();
    assert_eq!(
        how,
        vec![
            (Provenance::Cached, Provenance::Cached),
            (Provenance::Cached, Provenance::Reused)
        ]
    );
    assert_eq!(second.apps[0].changes.len(), first.apps[0].changes.len());
}

/// A realistic pull request: a config change, a training job whose spec changes (a new run),
/// a new GPU notebook, a rotated secret, a removed object; node pools with prices and a
/// Profile quota. The rendered comment and the JSON are golden files.
fn golden_repo() -> TestRepo {
    let mut repo = TestRepo::new("golden");
    let pools = "import \"kubeflow\" as kf\n\nkf.NodePool \"l4\" {\n  accelerator = kf.nvidia(\"NVIDIA-L4\")\n  per_node = 4\n  cpu = 48\n  memory = 192Gi\n  price_per_hour = 3.2\n}\n\nkf.Profile \"team-vision\" {\n  owner = \"bob@acme.com\"\n  quota = { cpu = 64, memory = 256Gi, gpu = 8 }\n}\n";
    let job = |epochs: u32| {
        format!(
            "import \"kubeflow\" as kf\nimport \"../platform/pools.kiln\" as pools\n\nkf.TrainingJob \"resnet\" {{\n  namespace = \"team-vision\"\n  framework = \"pytorch\"\n  image = \"ghcr.io/acme/resnet:3.1\"\n  command = [\"torchrun\", \"train.py\", \"--epochs={epochs}\"]\n  workers = 2\n  per_worker = {{ cpu = 8, memory = 32Gi, gpu = kf.gpu(kf.nvidia(\"NVIDIA-L4\"), 1) }}\n}}\n"
        )
    };
    let secret = |v: &str| {
        format!(
            "import \"kubeflow\" as kf\n\nkf.Object \"hf\" {{\n  api_version = \"v1\"\n  kind = \"Secret\"\n  namespace = \"team-vision\"\n  stringData = {{ token = \"{v}\" }}\n}}\n"
        )
    };
    repo.write(
        "kiln.toml",
        "[[app]]\nname = \"platform\"\npaths = [\"platform\"]\n\n[[app]]\nname = \"vision\"\npaths = [\"vision\"]\n\n[[app]]\nname = \"quiet\"\npaths = [\"quiet\"]\n",
    )
    .write("platform/pools.kiln", pools)
    .write("vision/train.kiln", &job(90))
    .write("vision/flags.kiln", &config_map("flags", "team-vision", &[("V2", "false"), ("BATCH", "64")]))
    .write("vision/old.kiln", &config_map("legacy", "team-vision", &[("K", "v")]))
    .write("vision/secret.kiln", &secret("hf_old_token_value"))
    .write("quiet/x.kiln", &config_map("q", "quiet", &[("K", "v")]));
    repo.commit("base");
    repo.write("vision/train.kiln", &job(120))
        .write("vision/flags.kiln", &config_map("flags", "team-vision", &[("V2", "true"), ("BATCH", "64")]))
        .remove("vision/old.kiln")
        .write("vision/secret.kiln", &secret("hf_new_token_value"))
        .write(
            "vision/notebook.kiln",
            "import \"kubeflow\" as kf\n\nkf.Notebook \"dev\" {\n  namespace = \"team-vision\"\n  image = \"ghcr.io/acme/jupyter:1\"\n  cpu = 2\n  memory = 8Gi\n  gpu = kf.gpu(kf.nvidia(\"NVIDIA-L4\"), 1)\n}\n",
        );
    repo.commit("head");
    repo
}

#[test]
fn golden_markdown_and_json() {
    let repo = golden_repo();
    let plan = plan(&repo, "main~1", "main");
    assert!(
        !plan.failed,
        "{:?}",
        plan.apps.iter().map(|a| &a.rendered).collect::<Vec<_>>()
    );
    let vision = plan.apps.iter().find(|a| a.name == "vision").unwrap();
    let kinds: Vec<ChangeKind> = vision.changes.iter().map(|c| c.change).collect();
    assert!(kinds.contains(&ChangeKind::NewRun), "{kinds:?}");
    let markdown = render_markdown(&plan);
    for secret in ["hf_old_token_value", "hf_new_token_value"] {
        assert!(!markdown.contains(secret));
    }
    insta::assert_snapshot!("plan_markdown", markdown);
    insta::assert_snapshot!("plan_json", render_json(&plan));
    insta::assert_snapshot!("plan_text", render_text(&plan));
}

#[test]
fn a_huge_plan_is_cut_to_fit_a_comment() {
    let mut repo = TestRepo::new("huge");
    let mut toml = String::new();
    for i in 0..60 {
        toml.push_str(&format!(
            "[[app]]\nname = \"app-{i:02}\"\npaths = [\"apps/{i:02}\"]\n\n"
        ));
    }
    repo.write("kiln.toml", &toml);
    let app = |i: usize, v: &str| {
        let mut s = String::from("import \"kubeflow\" as kf\n\n");
        for j in 0..30 {
            s.push_str(&format!(
                "kf.Object \"cm-{j}\" = kf.config_map({{ PAYLOAD = \"{}\" }}) with {{ namespace = \"ns-{i}\" }}\n",
                v.repeat(20)
            ));
        }
        s
    };
    for i in 0..60 {
        repo.write(&format!("apps/{i:02}/main.kiln"), &app(i, "before-"));
    }
    repo.commit("base");
    for i in 0..60 {
        repo.write(&format!("apps/{i:02}/main.kiln"), &app(i, "after--"));
    }
    repo.commit("head");
    let plan = plan(&repo, "main~1", "main");
    assert_eq!(plan.totals().changed, 60 * 30);
    let markdown = render_markdown(&plan);
    assert!(markdown.len() <= COMMENT_LIMIT, "{} characters", markdown.len());
    assert!(
        markdown.contains("This plan is longer than a comment can hold"),
        "{markdown}"
    );
    assert!(markdown.contains("Diffs left out for:") || markdown.contains("Sections left out for:"));
    assert!(markdown.contains(&format!("--git-base {}", plan.base.commit)));
    // Every app is still in the summary table.
    for i in 0..60 {
        assert!(
            markdown.contains(&format!("| app-{i:02} | 0 | 30 |")),
            "app-{i:02} missing"
        );
    }
    // A small limit leaves only the summary and the note.
    let tiny = render_markdown_within(&plan, 6_000);
    assert!(tiny.len() <= 6_000, "{}", tiny.len());
    assert!(tiny.contains("Sections left out for:"), "{tiny}");
}

#[test]
fn oversized_and_non_regular_files_are_refused_before_reading() {
    let mut repo = TestRepo::new("sizes");
    repo.write(
        "kiln.toml",
        "[[app]]\nname = \"a\"\npaths = [\"apps/a/main.kiln\"]\n",
    )
    .write("apps/a/main.kiln", &config_map("x", "a", &[("K", "v")]));
    repo.commit("base");
    repo.write(
        "apps/a/main.kiln",
        "import \"./big.kiln\" as big\nimport \"./sub.kiln\" as sub\nimport \"./dir\" as dir\n\nlet a = 1\n",
    )
    .write(
        "apps/a/big.kiln",
        &format!("let big = \"{}\"\n", "x".repeat(5 * 1024 * 1024)),
    )
    .write("apps/a/dir/x.kiln", "let x = 1\n");
    // A submodule entry (mode 160000) where a spec file is imported.
    repo.git(&["add", "-A"]);
    let gitlink = format!("160000,{},apps/a/sub.kiln", "1".repeat(40));
    repo.git(&["update-index", "--add", "--cacheinfo", &gitlink]);
    repo.commit_index("bad entries");
    let plan = plan(&repo, "main~1", "main");
    assert!(plan.failed);
    let messages: Vec<&str> = plan.apps[0]
        .diagnostics
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(
        messages[0].contains("over the limit of 4194304 bytes"),
        "{messages:?}"
    );
    assert!(messages[1].contains("not a regular file"), "{messages:?}");
    assert!(messages[2].contains("it is not a .kiln source"), "{messages:?}");
}

#[test]
fn one_app_can_be_planned_alone() {
    let mut repo = TestRepo::new("only");
    repo.write("kiln.toml", TWO_APPS)
        .write("apps/a/main.kiln", &config_map("a", "a", &[("K", "1")]))
        .write("apps/b/main.kiln", &config_map("b", "b", &[("K", "1")]));
    repo.commit("one");
    repo.write("apps/a/main.kiln", &config_map("a", "a", &[("K", "2")]))
        .write("apps/b/main.kiln", &config_map("b", "b", &[("K", "2")]));
    repo.commit("two");
    let source = repo.source();
    let request = |app| Request {
        base: "main~1",
        head: "main",
        app,
        paths: &[],
        schemas: None,
        cache: None,
    };
    let only = plan_commits(&source, &request(Some("team-b"))).unwrap();
    assert_eq!(only.apps.len(), 1);
    assert_eq!(only.apps[0].name, "team-b");
    let err = plan_commits(&source, &request(Some("team-c"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the project has no app `team-c` (it has: team-a, team-b); pass one of those to --app"
    );
}

/// Apps compiled together ([`build_apps`]: one compilation for the shared modules) get exactly
/// what compiling each alone gets: manifests, dependencies (transitive, through a symlink, the
/// stdlib excluded), node pools and diagnostics, also when one of them fails to compile.
#[test]
fn apps_compiled_together_equal_apps_compiled_alone() {
    use kiln_gitops::incremental::{build_app, build_apps};
    use kiln_gitops::review::project_at;
    let mut repo = TestRepo::new("together");
    let app = |name: &str| format!("[[app]]\nname = \"{name}\"\npaths = [\"apps/{name}\"]\n\n");
    let importing = |name: &str, module: &str| {
        format!(
            "import \"kubeflow\" as kf\nimport \"{module}\" as common\n\nkf.Object \"{name}\" = kf.config_map({{ RELEASE = common.release }}) with {{ namespace = \"{name}\" }}\n"
        )
    };
    repo.write(
        "kiln.toml",
        &[app("one"), app("two"), app("three"), app("four")].concat(),
    )
    .write("lib/common.kiln", "import \"./deeper.kiln\" as deeper\n\nlet release = deeper.version\n")
    .write("lib/deeper.kiln", "let version = \"2026.1\"\n")
    .symlink("lib/alias.kiln", "common.kiln")
    .write("apps/one/main.kiln", &importing("one", "../../lib/common.kiln"))
    .write("apps/one/more.kiln", &config_map("more", "one", &[("A", "1")]))
    .write("apps/two/main.kiln", &importing("two", "../../lib/alias.kiln"))
    .write("apps/three/main.kiln", &config_map("three", "three", &[("B", "2")]))
    .write(
        "apps/four/main.kiln",
        "import \"kubeflow\" as kf\n\nkf.NodePool \"gpus\" {\n  accelerator = kf.nvidia(\"l4\")\n  per_node = 2\n  cpu = 32\n  memory = 128Gi\n  price_per_hour = 1.5\n}\n",
    );
    let commit = repo.commit("apps");
    let source = repo.source();
    let snapshot = source.snapshot(git2::Oid::from_str(&commit).unwrap()).unwrap();
    let project = project_at(&snapshot).unwrap().unwrap();
    let apps: Vec<&kiln_gitops::App> = project.apps.iter().collect();
    let alone: Vec<_> = apps.iter().map(|a| build_app(&snapshot, a, None)).collect();
    assert!(alone.iter().all(|b| !b.failed), "{:#?}", alone);
    assert_eq!(
        alone[0].deps.iter().map(|(p, _)| p.as_str()).collect::<Vec<_>>(),
        [
            "apps/one/main.kiln",
            "apps/one/more.kiln",
            "lib/common.kiln",
            "lib/deeper.kiln"
        ]
    );
    assert_eq!(build_apps(&snapshot, &apps, None), alone);

    // One app that does not type-check: it gets its own diagnostics, the others their results.
    repo.write(
        "apps/three/main.kiln",
        "import \"kubeflow\" as kf\n\nlet x: int = \"text\"\n",
    );
    let commit = repo.commit("break one app");
    let source = repo.source();
    let snapshot = source.snapshot(git2::Oid::from_str(&commit).unwrap()).unwrap();
    let alone: Vec<_> = apps.iter().map(|a| build_app(&snapshot, a, None)).collect();
    assert!(alone[2].failed && !alone[0].failed && !alone[3].failed);
    assert_eq!(build_apps(&snapshot, &apps, None), alone);
}
