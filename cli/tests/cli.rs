//! End-to-end behaviour of the `kiln` binary: exit codes, output formats, formatting, examples.

mod common;

use common::{kiln, kiln_in, repo_root, scratch};

/// Every example file is its own project (`examples/team/` files import each other but each
/// checks on its own), so each is checked separately: one name may be used in two examples.
#[test]
fn every_example_checks_cleanly() {
    let mut files = Vec::new();
    collect(&repo_root().join("examples"), &mut files);
    files.sort();
    assert!(!files.is_empty(), "examples/ has .kiln files");
    let failures: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let output = kiln(&["check", file.to_str().expect("utf-8 path")]);
            (output.code != 0).then(|| format!("{}:\n{}", file.display(), output.stderr))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} examples fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read examples dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "kiln") {
            out.push(path);
        }
    }
}

#[test]
fn check_reports_several_errors_and_exits_1() {
    let dir = scratch("several-errors");
    std::fs::write(
        dir.join("bad.kiln"),
        "type T = { memory: Memory }\nT \"a\" { memroy = 1Gi }\nT \"b\" { memory = \"16Gi\" }\n",
    )
    .expect("write");
    let output = kiln_in(&dir, &["check", "bad.kiln"]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    assert!(output.stderr.contains("K0203"), "{}", output.stderr);
    assert!(output.stderr.contains("K0301"), "{}", output.stderr);
    assert!(output.stderr.contains("bad.kiln:2:"), "{}", output.stderr);
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
}

#[test]
fn json_diagnostics_are_machine_readable() {
    let dir = scratch("json-diagnostics");
    std::fs::write(dir.join("bad.kiln"), "let x = 8Gi + 2h\n").expect("write");
    let output = kiln_in(&dir, &["check", "--output", "json", "bad.kiln"]);
    assert_eq!(output.code, 1);
    // The diagnostics are check's output: stdout, like ruff, eslint and cargo; stderr stays empty.
    let doc: serde_json::Value = serde_json::from_str(&output.stdout).expect("JSON on stdout");
    assert_eq!(output.stderr, "");
    let short = kiln_in(&dir, &["check", "-o", "json", "bad.kiln"]);
    assert_eq!(short.stdout, output.stdout, "-o is --output");
    let first = &doc["diagnostics"][0];
    assert_eq!(first["code"], "K0303");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["file"], "bad.kiln");
    assert_eq!(first["line"], 1);
    assert!(first["column"].as_u64().is_some());
    assert!(first["span"]["start"].as_u64().is_some());
    assert!(first["help"].is_string() || first["help"].is_null());
}

#[test]
fn eval_prints_yaml_and_json() {
    let dir = scratch("eval");
    std::fs::write(
        dir.join("main.kiln"),
        "type S = { memory: Memory, n: Int = 2 }\nS \"web\" { memory = 1.5Gi }\n",
    )
    .expect("write");
    let yaml = kiln_in(&dir, &["eval", "main.kiln"]);
    assert_eq!(yaml.code, 0, "{}", yaml.stderr);
    assert!(yaml.stdout.contains("memory: 1536Mi"), "{}", yaml.stdout);
    let json = kiln_in(&dir, &["eval", "--output", "json", "main.kiln"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(doc[0]["name"], "web");
    assert_eq!(doc[0]["value"]["n"], 2);
}

#[test]
fn build_output_json_prints_a_manifest_list_and_json_diagnostics() {
    let dir = scratch("build-json");
    std::fs::write(
        dir.join("main.kiln"),
        "import \"kubeflow\" as kf\nkf.Profile \"team-a\" { owner = \"a@acme.com\" }\n",
    )
    .expect("write");
    let json = kiln_in(&dir, &["build", "-o", "json", "main.kiln"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON manifests");
    assert_eq!(doc["kind"], "List");
    assert_eq!(doc["items"][0]["kind"], "Profile");
    // A project type has no Kubernetes form: the error comes back as JSON too.
    std::fs::write(dir.join("bad.kiln"), "type T = { a: Int }\nT \"x\" { a = 1 }\n").expect("write");
    let bad = kiln_in(&dir, &["build", "--output", "json", "bad.kiln"]);
    assert_eq!(bad.code, 1);
    // Manifests (none) on stdout, diagnostics on stderr: a pipe into kubectl gets no diagnostics.
    assert_eq!(bad.stdout, "");
    let diagnostics: serde_json::Value = serde_json::from_str(&bad.stderr).expect("JSON diagnostics");
    assert_eq!(diagnostics["diagnostics"][0]["code"], "K0703");
}

#[test]
fn fmt_check_flags_unformatted_files_and_fmt_fixes_them() {
    let dir = scratch("fmt");
    std::fs::write(dir.join("a.kiln"), "let   x =   1 # keep me\n").expect("write");
    let check = kiln_in(&dir, &["fmt", "--check", "a.kiln"]);
    assert_eq!(check.code, 1, "{}", check.stdout);
    assert!(check.stdout.contains("a.kiln"));
    assert_eq!(kiln_in(&dir, &["fmt", "a.kiln"]).code, 0);
    let formatted = std::fs::read_to_string(dir.join("a.kiln")).expect("read");
    assert!(formatted.contains("# keep me"), "comments are kept: {formatted}");
    assert_eq!(kiln_in(&dir, &["fmt", "--check", "a.kiln"]).code, 0, "idempotent");
}

#[test]
fn missing_file_is_a_clear_error() {
    let output = kiln(&["check", "does/not/exist.kiln"]);
    assert_eq!(output.code, 1);
    assert!(output.stderr.contains("does/not/exist.kiln"), "{}", output.stderr);
}

#[test]
fn an_internal_error_is_one_line_with_its_own_exit_code() {
    let dir = scratch("internal");
    std::fs::write(dir.join("a.kiln"), "let x = 1\n").expect("write");
    let output = kiln_in(&dir, &["debug-internal-error", "a.kiln"]);
    assert_eq!(output.code, 3, "{}", output.stderr);
    assert_eq!(output.stderr.trim().lines().count(), 1, "{}", output.stderr);
    assert!(
        output.stderr.contains("a.kiln") && output.stderr.contains("report"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains("RUST_BACKTRACE"), "{}", output.stderr);
}

#[test]
fn hostile_nesting_is_a_diagnostic_not_a_crash() {
    let dir = scratch("deep");
    std::fs::write(dir.join("deep.kiln"), format!("let x = {}", "[".repeat(100_000))).expect("write");
    let output = kiln_in(&dir, &["check", "deep.kiln"]);
    assert_eq!(output.code, 1, "{}", output.stderr);
    assert!(output.stderr.contains("K0008"), "{}", output.stderr);
}

#[test]
fn build_writes_a_folder_with_out_dir_and_o_is_the_format() {
    let dir = scratch("build-out-dir");
    std::fs::write(
        dir.join("main.kiln"),
        "import \"kubeflow\" as kf\nkf.Profile \"team-a\" { owner = \"a@acme.com\" }\n",
    )
    .expect("write");
    let run = kiln_in(&dir, &["build", "main.kiln", "--out-dir", "out", "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "", "files, not a stream");
    let written = std::fs::read_to_string(dir.join("out/profile_team-a.json")).expect("written");
    assert!(written.contains("\"kind\": \"Profile\""), "{written}");
    // `-o` is a format everywhere: a folder name is a usage error, not a folder.
    let old = kiln_in(&dir, &["build", "main.kiln", "-o", "manifests"]);
    assert_eq!(old.code, 64, "{}", old.stderr);
    assert!(
        old.stderr.contains("yaml") && old.stderr.contains("json"),
        "{}",
        old.stderr
    );
    assert!(!dir.join("manifests").exists());
}

#[test]
fn usage_errors_exit_64_never_2_which_means_changes_pending() {
    for args in [
        &["check", "--no-such-flag", "a.kiln"][..],
        &["check"][..],
        &["build", "--format", "json", "a.kiln"][..],
        &["plan", "--detailed-exitcode", "--no-such-flag"][..],
        &["plan"][..],
        &["completions", "tcsh"][..],
        &["no-such-command"][..],
    ] {
        let run = kiln(args);
        assert_eq!(run.code, 64, "kiln {args:?}: {}", run.stderr);
        assert!(run.stderr.contains("error"), "kiln {args:?}: {}", run.stderr);
    }
    let help = kiln(&["--help"]);
    assert_eq!(help.code, 0, "{}", help.stderr);
    assert_eq!(kiln(&["check", "--help"]).code, 0);
}

/// `kiln --help` lists every exit code, and docs/cli.md lists the same ones with the same words.
#[test]
fn exit_codes_are_documented_in_help_and_docs() {
    let help = kiln(&["--help"]).stdout;
    let table: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Exit codes:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    let codes: Vec<&str> = table.iter().filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(codes, ["0", "1", "2", "3", "64"], "{help}");
    let docs = std::fs::read_to_string(repo_root().join("docs/cli.md")).expect("docs/cli.md");
    for line in &table {
        let (code, meaning) = line.trim().split_once(' ').expect("code and meaning");
        let row = format!("| {code} | {} |", meaning.trim());
        assert!(docs.contains(&row), "docs/cli.md lacks the row `{row}`");
    }
}

#[test]
fn version_names_the_commit() {
    let run = kiln(&["--version"]);
    assert_eq!(run.code, 0);
    let line = run.stdout.trim();
    let version = env!("CARGO_PKG_VERSION");
    assert!(line.starts_with(&format!("kiln {version} (commit ")), "{line}");
    let commit = line
        .rsplit("(commit ")
        .next()
        .and_then(|c| c.strip_suffix(')'))
        .expect("a commit");
    // A checkout has a hash; without .git (a source archive), the build says `unknown`.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        Some(hash) => assert!(
            commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{commit} vs {hash}"
        ),
        None => assert_eq!(commit, "unknown"),
    }
}

#[test]
fn completions_are_scripts_for_each_shell_that_know_the_flags() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef kiln"),
        ("fish", "complete -c kiln"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let run = kiln(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains(marker), "{shell}: no `{marker}`");
        // fish spells long flags `-l out-dir`, the others `--out-dir`.
        for flag in ["out-dir", "output", "detailed-exitcode"] {
            assert!(run.stdout.contains(flag), "{shell} completion lacks --{flag}");
        }
    }
    // bash can load the script, and then completes kiln's subcommands.
    let script = kiln(&["completions", "bash"]).stdout;
    let dir = scratch("completions");
    std::fs::write(dir.join("kiln.bash"), &script).expect("write");
    let run = std::process::Command::new("bash")
        .arg("-c")
        .arg(
            "source ./kiln.bash && COMP_WORDS=(kiln ch) COMP_CWORD=1 COMP_LINE='kiln ch' COMP_POINT=7 \
             && _kiln kiln ch kiln && printf '%s\\n' \"${COMPREPLY[@]}\"",
        )
        .current_dir(&dir)
        .output()
        .expect("bash");
    let words = String::from_utf8_lossy(&run.stdout);
    assert!(
        words.lines().any(|w| w == "check"),
        "bash completed {words:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// Runs kiln under a pseudo-terminal (`script`, util-linux), as a person at a shell would.
fn kiln_on_a_terminal(dir: &std::path::Path, args: &str) -> String {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_kiln"));
    let run = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("script(1) from util-linux");
    String::from_utf8_lossy(&run.stdout).replace('\r', "")
}

#[test]
fn check_and_build_end_with_a_summary_on_a_terminal_and_nothing_extra_in_a_pipe() {
    let dir = scratch("summary");
    std::fs::write(
        dir.join("main.kiln"),
        "import \"kubeflow\" as kf\nimport \"./more.kiln\" as more\nkf.Profile \"team-a\" { owner = \"a@acme.com\" }\n\
         kf.Profile \"team-b\" { owner = more.owner }\n",
    )
    .expect("write");
    std::fs::write(dir.join("more.kiln"), "let owner = \"b@acme.com\"\n").expect("write");
    let check = kiln_on_a_terminal(&dir, "check main.kiln");
    assert_eq!(
        check.trim_end().lines().last(),
        Some("checked 2 files: 2 objects, 0 errors, 0 warnings"),
        "{check}"
    );
    let build = kiln_on_a_terminal(&dir, "build main.kiln --out-dir out");
    assert_eq!(
        build.trim_end().lines().last(),
        Some("built 2 files: 2 objects, 0 errors, 0 warnings"),
        "{build}"
    );
    std::fs::write(
        dir.join("bad.kiln"),
        "type T = { a: Int }\nT \"x\" { a = \"no\" }\n",
    )
    .expect("write");
    let bad = kiln_on_a_terminal(&dir, "check bad.kiln");
    assert!(bad.contains("K0"), "{bad}");
    assert_eq!(
        bad.trim_end().lines().last(),
        Some("checked 1 file: 0 objects, 1 error, 0 warnings"),
        "{bad}"
    );
    // In a pipe: a clean check prints nothing at all, a build only the manifests.
    let piped = kiln_in(&dir, &["check", "main.kiln"]);
    assert_eq!(
        (piped.code, piped.stdout.as_str(), piped.stderr.as_str()),
        (0, "", "")
    );
    let piped = kiln_in(&dir, &["build", "main.kiln"]);
    assert_eq!(piped.stderr, "");
    assert!(
        piped.stdout.starts_with("apiVersion:") || piped.stdout.starts_with("---"),
        "{}",
        piped.stdout
    );
}

#[test]
fn init_writes_a_starter_project_that_checks_formats_and_builds() {
    let dir = scratch("init");
    let run = kiln_in(&dir, &["init", "Team_Vision"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let project = dir.join("Team_Vision");
    for file in [
        "kiln.toml",
        "README.md",
        "specs/team.kiln",
        "specs/pipeline.kiln",
        "specs/training.kiln",
    ] {
        assert!(project.join(file).is_file(), "kiln init wrote no {file}");
    }
    let toml = std::fs::read_to_string(project.join("kiln.toml")).expect("kiln.toml");
    assert!(toml.contains("name = \"team-vision\""), "{toml}");
    let check = kiln_in(&project, &["check", "specs"]);
    assert_eq!((check.code, check.stderr.as_str()), (0, ""), "check");
    let fmt = kiln_in(&project, &["fmt", "--check", "specs"]);
    assert_eq!(fmt.code, 0, "fmt --check: {}{}", fmt.stdout, fmt.stderr);
    let build = kiln_in(&project, &["build", "specs"]);
    assert_eq!(build.code, 0, "{}", build.stderr);
    for kind in [
        "kind: Profile",
        "kind: Notebook",
        "kind: PyTorchJob",
        "kind: Pipeline",
    ] {
        assert!(build.stdout.contains(kind), "the starter project emits no {kind}");
    }
    // docs/getting-started.md shows the file as `kiln init` writes it for `team-vision`.
    let named = scratch("init-docs");
    assert_eq!(kiln_in(&named, &["init", "team-vision"]).code, 0);
    let team = std::fs::read_to_string(named.join("team-vision/specs/team.kiln")).expect("team.kiln");
    let guide = std::fs::read_to_string(repo_root().join("docs/getting-started.md")).expect("guide");
    assert!(
        guide.contains(&team),
        "docs/getting-started.md does not show specs/team.kiln as written:\n{team}"
    );
    // A second run writes nothing and says which file is in the way.
    std::fs::write(project.join("specs/team.kiln"), "# mine\n").expect("write");
    let again = kiln_in(&dir, &["init", "Team_Vision"]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("kiln.toml"), "{}", again.stderr);
    assert_eq!(
        std::fs::read_to_string(project.join("specs/team.kiln")).expect("read"),
        "# mine\n"
    );
}
