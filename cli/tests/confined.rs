//! The confined loader and the output writers, through the real binary (issue 15, "Reading
//! outside the repository", "Unbounded reads and hangs", "Writing outside the output folder").
//!
//! Each case builds a project in a fresh temporary folder (`proj/`, with a `.git` so it is the
//! project root whatever lies above) next to an `outside/` folder holding a file with a unique
//! secret marker. Each run has a time limit (the child is killed past it, so a hang fails the
//! test instead of blocking it), and no output may contain the marker or any other content of a
//! refused file.

use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A marker no output may contain: it is only ever inside files kiln must refuse.
const SECRET: &str = "KILN_SECRET_MARKER_5f1d2c";
/// Every run must finish within this (a blocking FIFO or an endless read would not).
const TIME_LIMIT: Duration = Duration::from_secs(10);

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Exit 1, the code in the output, within the time limit, and no secret.
    fn refused_with(&self, code: &str) {
        assert_eq!(self.code, 1, "exit code:\n{}", self.output());
        assert!(
            self.stderr.contains(&format!("error[{code}]")),
            "expected {code}:\n{}",
            self.output()
        );
        self.no_secret();
    }

    fn no_secret(&self) {
        let out = self.output();
        assert!(!out.contains(SECRET), "secret echoed:\n{out}");
        assert!(!out.contains("root:x:0:0"), "/etc/passwd echoed:\n{out}");
        assert!(!out.contains("token-abc"), ".git/config echoed:\n{out}");
        assert!(
            !out.contains("panicked") && !out.contains("internal error"),
            "{out}"
        );
        assert!(self.took < Duration::from_secs(5), "took {:?}", self.took);
    }
}

/// A project folder and a folder outside it, removed when dropped.
struct Fixture {
    base: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir().join(format!(
            "kiln-confined-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("proj/.git")).expect("mkdir");
        std::fs::create_dir_all(base.join("outside")).expect("mkdir");
        std::fs::write(
            base.join("outside/secret.kiln"),
            format!("let {SECRET} = \"{SECRET}\" +\n"),
        )
        .expect("write");
        std::fs::write(
            base.join("proj/.git/config"),
            "[remote \"origin\"]\n  url = https://token-abc@example.com/r.git\n",
        )
        .expect("write");
        Fixture { base }
    }

    fn proj(&self) -> PathBuf {
        self.base.join("proj")
    }

    fn outside(&self) -> PathBuf {
        self.base.join("outside")
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.proj().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        path
    }

    fn link(&self, rel: &str, target: impl AsRef<Path>) {
        let path = self.proj().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        symlink(target, path).expect("symlink");
    }

    /// Runs kiln in `proj/` with a time limit.
    fn kiln(&self, args: &[&str]) -> Run {
        self.kiln_in(&self.proj(), args)
    }

    fn kiln_in(&self, dir: &Path, args: &[&str]) -> Run {
        run_with_limit(
            Command::new(env!("CARGO_BIN_EXE_kiln"))
                .args(args)
                .current_dir(dir)
                .env("NO_COLOR", "1")
                .env("COLUMNS", "100")
                .env("KILN_TEST_SECRET", SECRET)
                .stdin(Stdio::piped()),
        )
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// Runs the command, killing it after [`TIME_LIMIT`]. Its stdin is a pipe that stays open (and
/// empty) for the whole run, so reading `/dev/stdin` would block.
fn run_with_limit(command: &mut Command) -> Run {
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kiln");
    let _stdin = child.stdin.take();
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kiln did not finish within {TIME_LIMIT:?}: {command:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = start.elapsed();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.join().expect("stdout")).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().expect("stderr")).into_owned(),
        took,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading outside the repository.

#[test]
fn proc_self_environ_is_refused_without_echoing_the_environment() {
    let f = Fixture::new();
    f.write(
        "main.kiln",
        "import \"../../../../../../../../../../proc/self/environ\" as p\nlet x = 1\n",
    );
    let run = f.kiln(&["check", "main.kiln"]);
    run.refused_with("K0110");
    assert!(
        run.stderr
            .contains("../../../../../../../../../../proc/self/environ")
    );
}

#[test]
fn etc_passwd_by_dots_or_absolute_path_is_refused() {
    let f = Fixture::new();
    f.write(
        "main.kiln",
        "import \"../../../../../../../../../../etc/passwd\" as p\nimport \"/etc/passwd\" as q\n",
    );
    let run = f.kiln(&["check", "main.kiln"]);
    run.refused_with("K0110");
    assert_eq!(run.stderr.matches("error[K0110]").count(), 2, "{}", run.stderr);
}

#[test]
fn a_file_beside_the_project_is_refused() {
    let f = Fixture::new();
    f.write("main.kiln", "import \"../outside/secret.kiln\" as s\n");
    f.kiln(&["check", "main.kiln"]).refused_with("K0110");
}

#[test]
fn a_symlinked_file_outside_is_refused() {
    let f = Fixture::new();
    f.link("lib/shared.kiln", "../../outside/secret.kiln");
    f.write("main.kiln", "import \"./lib/shared.kiln\" as s\n");
    let run = f.kiln(&["check", "main.kiln"]);
    run.refused_with("K0111");
    // The refusal names the link as written in the project, never the file it points at.
    assert!(!run.stderr.contains("outside/secret"), "{}", run.stderr);
    insta::assert_snapshot!("symlink_outside", run.stderr);
    // The same link given on the command line.
    let run = f.kiln(&["check", "lib/shared.kiln"]);
    run.refused_with("K0111");
    assert!(!run.stderr.contains("outside/secret"), "{}", run.stderr);
}

#[test]
fn a_symlinked_folder_outside_is_refused() {
    let f = Fixture::new();
    f.link("vendor", f.outside());
    f.write("main.kiln", "import \"./vendor/secret.kiln\" as s\n");
    let outside = f.outside().display().to_string();
    let run = f.kiln(&["check", "main.kiln"]);
    run.refused_with("K0111");
    assert!(!run.stderr.contains(&outside), "{}", run.stderr);
    // Scanning the project meets the link too.
    let run = f.kiln(&["check", "."]);
    run.refused_with("K0111");
    assert!(!run.stderr.contains(&outside), "{}", run.stderr);
}

#[test]
fn a_symlinked_kiln_file_found_by_a_folder_scan_is_refused() {
    let f = Fixture::new();
    f.write("ok.kiln", "let x = 1\n");
    f.link("specs/evil.kiln", f.outside().join("secret.kiln"));
    let run = f.kiln(&["check", "."]);
    run.refused_with("K0111");
    assert!(run.stderr.contains("specs/evil.kiln"), "{}", run.stderr);
    let outside = f.outside().display().to_string();
    assert!(!run.stderr.contains(&outside), "{}", run.stderr);
}

#[test]
fn links_inside_the_project_are_followed() {
    let f = Fixture::new();
    f.write("lib/real.kiln", "let image = \"ghcr.io/acme/x:1\"\n");
    f.link("alias.kiln", "lib/real.kiln");
    f.write(
        "main.kiln",
        "import \"./alias.kiln\" as a\ntype T = { image: String }\nT \"t\" { image = a.image }\n",
    );
    let run = f.kiln(&["eval", "main.kiln"]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(run.stdout.contains("ghcr.io/acme/x:1"), "{}", run.stdout);
}

#[test]
fn git_internals_and_non_kiln_files_are_never_read() {
    let f = Fixture::new();
    f.link("cfg.kiln", ".git/config");
    f.write(".env", &format!("TOKEN={SECRET}\n"));
    f.write(
        "main.kiln",
        "import \"./cfg.kiln\" as c\nimport \"./.env\" as e\nimport \"./.git/config\" as g\n",
    );
    let run = f.kiln(&["check", "main.kiln"]);
    run.refused_with("K0115");
    assert_eq!(run.stderr.matches("error[K0115]").count(), 3, "{}", run.stderr);
    // On the command line too.
    f.kiln(&["check", ".env"]).refused_with("K0115");
}

#[test]
fn a_command_line_path_outside_the_project_is_refused() {
    let f = Fixture::new();
    f.write("main.kiln", "let x = 1\n");
    let secret = f.outside().join("secret.kiln");
    f.kiln(&["check", "main.kiln", secret.to_str().expect("utf-8")])
        .refused_with("K0110");
}

// ---------------------------------------------------------------------------------------------
// Unbounded reads and hangs.

#[test]
fn dev_zero_and_dev_urandom_are_refused_at_once() {
    for device in ["/dev/zero", "/dev/urandom"] {
        let f = Fixture::new();
        f.link("data.kiln", device);
        f.write(
            "main.kiln",
            &format!("import \"./data.kiln\" as d\nimport \"../../../../../../../..{device}\" as e\n"),
        );
        let run = f.kiln(&["check", "main.kiln"]);
        run.refused_with("K0111");
        run.refused_with("K0110");
        // Named directly: its folder becomes the root, and it is not a source.
        f.kiln(&["check", device]).refused_with("K0115");
    }
}

#[test]
fn a_fifo_never_blocks() {
    let f = Fixture::new();
    let fifo = f.proj().join("pipe.kiln");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    f.write("main.kiln", "import \"./pipe.kiln\" as p\n");
    let run = f.kiln(&["check", "main.kiln"]);
    run.refused_with("K0113");
    insta::assert_snapshot!("fifo_import", run.stderr);
    f.kiln(&["check", "pipe.kiln"]).refused_with("K0113");
    f.kiln(&["check", "."]).refused_with("K0113");
    f.kiln(&["fmt", "."]).refused_with("K0113");
}

#[test]
fn dev_stdin_on_an_open_pipe_never_blocks() {
    let f = Fixture::new();
    f.link("input.kiln", "/dev/stdin");
    f.write(
        "main.kiln",
        "import \"./input.kiln\" as i\nimport \"/dev/stdin\" as j\n",
    );
    let run = f.kiln(&["check", "main.kiln"]);
    run.refused_with("K0111");
    run.refused_with("K0110");
    f.kiln(&["check", "/dev/stdin"]).refused_with("K0115");
    f.kiln(&["check", "/proc/self/fd/0"]).refused_with("K0115");
}

#[test]
fn two_symlinks_to_the_folder_itself_are_scanned_once() {
    let f = Fixture::new();
    f.write("a/bad.kiln", "let y = nope\n");
    f.link("a/self1", ".");
    f.link("a/self2", ".");
    f.link("a/up", "..");
    let run = f.kiln(&["check", "a"]);
    run.refused_with("K0101");
    assert_eq!(run.stderr.matches("error[K0101]").count(), 1, "{}", run.stderr);
}

#[test]
fn a_symlink_loop_is_refused() {
    let f = Fixture::new();
    f.link("a.kiln", "b.kiln");
    f.link("b.kiln", "a.kiln");
    f.write("main.kiln", "import \"./a.kiln\" as a\n");
    let run = f.kiln(&["check", "main.kiln"]);
    run.refused_with("K0112");
    insta::assert_snapshot!("symlink_loop", run.stderr);
}

#[test]
fn a_source_over_the_limit_is_refused_before_it_is_read() {
    let f = Fixture::new();
    // Sparse: 65 MiB of file without 65 MiB of disk.
    let big = std::fs::File::create(f.proj().join("big.kiln")).expect("create");
    big.set_len(65 * 1024 * 1024).expect("set_len");
    f.write("main.kiln", "import \"./big.kiln\" as b\n");
    let run = f.kiln(&["check", "main.kiln"]);
    run.refused_with("K0114");
    insta::assert_snapshot!("too_large", run.stderr);
    f.kiln(&["check", "big.kiln"]).refused_with("K0114");
}

// ---------------------------------------------------------------------------------------------
// Writing outside the output folder.

const CONFIG_MAP: &str = "import \"kubeflow\" as kf\n";

#[test]
fn a_metadata_field_cannot_name_a_file_outside_the_output_folder() {
    let f = Fixture::new();
    f.write(
        "main.kiln",
        &format!(
            "{CONFIG_MAP}kf.Object \"ok\" {{\n  api_version = \"v1\"\n  kind = \"ConfigMap\"\n  \
             metadata = {{ name = \"evil/../../ESCAPED\" }}\n}}\n"
        ),
    );
    let run = f.kiln(&["build", "main.kiln", "--out-dir", "R/manifests"]);
    run.refused_with("K0704");
    assert!(
        run.stderr.contains("metadata = {"),
        "label on the field:\n{}",
        run.stderr
    );
    assert!(!f.proj().join("R").exists(), "nothing written");
    assert!(!f.proj().join("ESCAPED.yaml").exists());
}

#[test]
fn metadata_namespace_cannot_bypass_the_namespace_check() {
    let f = Fixture::new();
    f.write(
        "main.kiln",
        &format!(
            "{CONFIG_MAP}kf.Object \"ok\" {{\n  api_version = \"v1\"\n  kind = \"ConfigMap\"\n  \
             metadata = {{ namespace = \"../Kube_System\" }}\n}}\n"
        ),
    );
    f.kiln(&["check", "main.kiln"]).refused_with("K0704");
    f.kiln(&["build", "main.kiln"]).refused_with("K0704");
    // The checked field is checked.
    f.write(
        "main.kiln",
        &format!(
            "{CONFIG_MAP}kf.Object \"ok\" {{\n  api_version = \"v1\"\n  kind = \"ConfigMap\"\n  \
             namespace = \"../Kube_System\"\n}}\n"
        ),
    );
    f.kiln(&["check", "main.kiln"]).refused_with("K0206");
}

fn config_map(namespace: &str, name: &str) -> String {
    format!(
        "kf.Object \"{name}\" = kf.config_map({{ from = \"{namespace}/{name}\" }}) with {{ namespace = \"{namespace}\" }}\n"
    )
}

#[test]
fn objects_never_share_an_output_file() {
    let f = Fixture::new();
    f.write(
        "main.kiln",
        &format!("{CONFIG_MAP}{}{}", config_map("a-b", "c"), config_map("a", "b-c")),
    );
    let run = f.kiln(&["build", "main.kiln", "--out-dir", "out"]);
    assert_eq!(run.code, 0, "{}", run.output());
    let first = std::fs::read_to_string(f.proj().join("out/configmap_a-b_c.yaml")).expect("a-b/c");
    let second = std::fs::read_to_string(f.proj().join("out/configmap_a_b-c.yaml")).expect("a/b-c");
    assert!(first.contains("from: a-b/c"), "{first}");
    assert!(second.contains("from: a/b-c"), "{second}");
}

#[test]
fn the_same_kind_in_two_groups_is_a_collision_and_nothing_is_written() {
    let f = Fixture::new();
    let widget = |group: &str| {
        format!(
            "kf.Object \"w\" {{ api_version = \"{group}/v1\", kind = \"Widget\", namespace = \"n\", spec = {{ size = 1 }} }}\n"
        )
    };
    f.write(
        "main.kiln",
        &format!(
            "{CONFIG_MAP}{}{}",
            widget("a.example.com"),
            widget("b.example.com")
        ),
    );
    let run = f.kiln(&["build", "main.kiln", "--out-dir", "out"]);
    run.refused_with("K0705");
    insta::assert_snapshot!("collision", run.stderr);
    assert!(!f.proj().join("out/widget_n_w.yaml").exists());
}

#[test]
fn an_existing_symlink_in_the_output_folder_is_replaced_not_written_through() {
    let f = Fixture::new();
    let victim = f.outside().join("victim.txt");
    std::fs::write(&victim, "precious\n").expect("write");
    f.write("main.kiln", &format!("{CONFIG_MAP}{}", config_map("ns", "x")));
    f.link("out/configmap_ns_x.yaml", &victim);
    let run = f.kiln(&["build", "main.kiln", "--out-dir", "out"]);
    assert_eq!(run.code, 0, "{}", run.output());
    run.no_secret();
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "precious\n");
    let written = f.proj().join("out/configmap_ns_x.yaml");
    let meta = std::fs::symlink_metadata(&written).expect("written");
    assert!(meta.file_type().is_file(), "the link was replaced by a file");
    assert!(
        std::fs::read_to_string(&written)
            .expect("read")
            .contains("from: ns/x")
    );
}

#[test]
fn a_symlinked_output_folder_is_refused() {
    let f = Fixture::new();
    f.write("main.kiln", &format!("{CONFIG_MAP}{}", config_map("ns", "x")));
    f.link("manifests", f.outside());
    let run = f.kiln(&["build", "main.kiln", "--out-dir", "manifests"]);
    run.refused_with("K0706");
    insta::assert_snapshot!("output_symlink", run.stderr);
    let written: Vec<_> = std::fs::read_dir(f.outside()).expect("ls").collect();
    assert_eq!(written.len(), 1, "only the secret is outside");
    // A folder below a symlink is the same.
    f.kiln(&["build", "main.kiln", "--out-dir", "manifests/sub"])
        .refused_with("K0706");
}

#[test]
fn an_output_folder_that_cannot_be_made_is_a_diagnostic() {
    let f = Fixture::new();
    f.write("main.kiln", &format!("{CONFIG_MAP}{}", config_map("ns", "x")));
    f.write("file.txt", "");
    let run = f.kiln(&["build", "main.kiln", "--out-dir", "file.txt/out"]);
    run.refused_with("K0707");
    insta::assert_snapshot!("output_unwritable", run.stderr);
}

#[test]
fn fmt_never_writes_through_a_symlink_to_outside() {
    let f = Fixture::new();
    let target = f.outside().join("secret.kiln");
    let before = std::fs::read_to_string(&target).expect("read");
    f.link("linked.kiln", &target);
    f.write("ok.kiln", "let  x = 1\n");
    let run = f.kiln(&["fmt", "."]);
    run.refused_with("K0111");
    assert_eq!(std::fs::read_to_string(&target).expect("read"), before);
    // The file inside was still formatted (several problems per run).
    assert_eq!(
        std::fs::read_to_string(f.proj().join("ok.kiln")).expect("ok"),
        "let x = 1\n"
    );
    f.kiln(&["fmt", "linked.kiln"]).refused_with("K0111");
    assert_eq!(std::fs::read_to_string(&target).expect("read"), before);
}

#[test]
fn fmt_through_a_link_inside_formats_the_real_file_once() {
    let f = Fixture::new();
    f.write("lib/real.kiln", "let  x = 1\n");
    f.link("alias.kiln", "lib/real.kiln");
    let run = f.kiln(&["fmt", "."]);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(
        std::fs::symlink_metadata(f.proj().join("alias.kiln"))
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(f.proj().join("lib/real.kiln")).expect("real"),
        "let x = 1\n"
    );
}

// ---------------------------------------------------------------------------------------------
// File names relative to the project root (issue 9, item 1).

#[test]
fn the_source_trace_is_project_relative_from_any_working_directory() {
    let f = Fixture::new();
    f.write(
        "team/main.kiln",
        &format!("{CONFIG_MAP}{}", config_map("ns", "x")),
    );
    let inside = f.kiln(&["build", "team/main.kiln"]);
    let nested = f.kiln_in(&f.proj().join("team"), &["build", "main.kiln"]);
    let absolute = f.proj().join("team/main.kiln");
    let elsewhere = f.kiln_in(&f.outside(), &["build", absolute.to_str().expect("utf-8")]);
    for run in [&inside, &nested, &elsewhere] {
        assert_eq!(run.code, 0, "{}", run.output());
        assert!(
            run.stdout.contains("kiln.dev/source: team/main.kiln\n"),
            "{}",
            run.stdout
        );
    }
    assert_eq!(inside.stdout, nested.stdout);
    assert_eq!(inside.stdout, elsewhere.stdout);
    assert!(!elsewhere.stdout.contains(f.base.to_str().expect("utf-8")));
}

#[test]
fn diagnostics_show_paths_relative_to_the_working_directory() {
    let f = Fixture::new();
    f.write("team/lib.kiln", "let y = nope\n");
    f.write("team/main.kiln", "import \"./lib.kiln\" as l\n");
    let nested = f.kiln_in(&f.proj().join("team"), &["check", "main.kiln"]);
    assert!(nested.stderr.contains("[lib.kiln:1:9]"), "{}", nested.stderr);
    let top = f.kiln(&["check", "team/main.kiln"]);
    assert!(top.stderr.contains("[team/lib.kiln:1:9]"), "{}", top.stderr);
}
