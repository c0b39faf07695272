//! `kiln lsp` driven as an editor drives it: the real binary, JSON-RPC over its stdin/stdout,
//! on copies of the repository's examples.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use common::{kiln, repo_root, scratch};
use serde_json::{Value, json};

/// A client of one `kiln lsp` process.
struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
    /// Notifications read while waiting for something else.
    pending: Vec<Value>,
}

impl Client {
    fn start(root: &Path) -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start kiln lsp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length.expect("Content-Length header")];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let message: Value = serde_json::from_slice(&body).expect("JSON message");
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        let mut client = Client {
            child,
            stdin,
            messages,
            next_id: 0,
            pending: Vec::new(),
        };
        let init = client.request(
            "initialize",
            json!({ "processId": null, "rootUri": uri(root), "capabilities": {} }),
        );
        assert_eq!(init["serverInfo"]["name"], "kiln");
        for capability in [
            "hoverProvider",
            "definitionProvider",
            "completionProvider",
            "documentFormattingProvider",
            "documentSymbolProvider",
        ] {
            assert!(
                !init["capabilities"][capability].is_null(),
                "server announces {capability}"
            );
        }
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    fn receive(&mut self) -> Value {
        self.messages
            .recv_timeout(Duration::from_secs(60))
            .expect("kiln lsp answers within 60 s")
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.receive();
            if message["id"] == json!(id) {
                assert!(message["error"].is_null(), "{method} failed: {message}");
                return message["result"].clone();
            }
            self.pending.push(message);
        }
    }

    /// The next diagnostics published for `file`.
    fn diagnostics(&mut self, file: &Path) -> Vec<Value> {
        let uri = uri(file);
        if let Some(i) = self.pending.iter().position(|m| is_diagnostics_for(m, &uri)) {
            let m = self.pending.remove(i);
            return m["params"]["diagnostics"].as_array().cloned().unwrap_or_default();
        }
        loop {
            let message = self.receive();
            if is_diagnostics_for(&message, &uri) {
                return message["params"]["diagnostics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
            }
            self.pending.push(message);
        }
    }

    fn open(&mut self, file: &Path, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri(file), "languageId": "kiln", "version": 1, "text": text } }),
        );
    }

    fn change(&mut self, file: &Path, version: i64, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri(file), "version": version }, "contentChanges": [{ "text": text }] }),
        );
    }

    fn at(&mut self, method: &str, file: &Path, text: &str, needle: &str, delta: usize) -> Value {
        let (line, character) = position(text, needle, delta);
        self.request(
            method,
            json!({ "textDocument": { "uri": uri(file) }, "position": { "line": line, "character": character } }),
        )
    }

    fn shutdown(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let status = self.child.wait().expect("kiln lsp exits");
        assert!(status.success(), "kiln lsp exits cleanly after shutdown/exit");
    }
}

fn is_diagnostics_for(message: &Value, uri: &str) -> bool {
    message["method"] == "textDocument/publishDiagnostics" && message["params"]["uri"] == uri
}

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The LSP position of `delta` bytes after the first `needle` in `text` (ASCII texts only).
fn position(text: &str, needle: &str, delta: usize) -> (usize, usize) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("{needle:?} in text")) + delta;
    let line = text[..offset].matches('\n').count();
    let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    (line, column)
}

/// A scratch copy of `examples/<name>`, canonicalised (the server reports absolute paths).
fn example_copy(name: &str) -> std::path::PathBuf {
    // Tests run in parallel: each copy gets its own folder.
    static COPIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = scratch(&format!("lsp-{name}-{n}"));
    let from = repo_root().join("examples").join(name);
    for entry in std::fs::read_dir(&from).expect("example dir") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.join(path.file_name().expect("name"))).expect("copy");
    }
    dir.canonicalize().expect("canonical")
}

/// (code, line, column, label) of each diagnostic `kiln check --output json` reports, sorted.
fn check_json(dir: &Path) -> Vec<(String, u64, u64, String)> {
    let out = kiln(&["check", "--output", "json", &dir.display().to_string()]);
    let text = if out.stdout.contains("\"diagnostics\"") {
        out.stdout
    } else {
        out.stderr
    };
    let doc: Value = serde_json::from_str(&text).expect("kiln check JSON");
    let mut found: Vec<_> = doc["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["line"].as_u64().unwrap_or(0) - 1,
                d["column"].as_u64().unwrap_or(0) - 1,
                d["label"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

fn lsp_tuples(diagnostics: &[Value]) -> Vec<(String, u64, u64, String)> {
    let mut found: Vec<_> = diagnostics
        .iter()
        .map(|d| {
            assert_eq!(d["source"], "kiln");
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["range"]["start"]["line"].as_u64().unwrap_or(0),
                d["range"]["start"]["character"].as_u64().unwrap_or(0),
                d["relatedInformation"][0]["message"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

#[test]
fn diagnostics_as_you_type_are_those_of_kiln_check_for_the_whole_project() {
    let dir = example_copy("team");
    let project = dir.join("project.kiln");
    let pipeline = dir.join("pipeline.kiln");
    let clean = std::fs::read_to_string(&project).expect("project.kiln");
    let mut client = Client::start(&dir);

    client.open(&project, &clean);
    // The example has no errors; its warnings (K0418 on the canary) are those of `kiln check`.
    let baseline = check_json(&dir);
    assert!(baseline.iter().all(|d| d.0 == "K0418"), "{baseline:?}");
    assert_eq!(
        lsp_tuples(&client.diagnostics(&project)),
        baseline,
        "the example as kiln check sees it"
    );
    // The project is compiled as a whole: the other file gets its (empty) diagnostics too.
    assert_eq!(client.diagnostics(&pipeline), Vec::<Value>::new());

    // A type error (checker) and a GPU fit error (lowering and fit checks), as typed.
    let broken = clean.replacen("  cpu = 4\n", "  cpu = \"four\"\n", 1).replacen(
        "gpu = kf.gpus(a100, 8)",
        "gpu = kf.gpus(a100, 9)",
        1,
    );
    client.change(&project, 2, &broken);
    let type_error = client.diagnostics(&project);
    let codes: Vec<&str> = type_error.iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(
        codes,
        ["K0301"],
        "a type error stops before lowering, as in kiln check"
    );
    assert!(
        type_error[0]["message"]
            .as_str()
            .unwrap()
            .contains("help: units are values")
    );

    std::fs::write(&project, &broken).expect("write");
    assert_eq!(lsp_tuples(&type_error), check_json(&dir));

    let fit = broken.replacen("  cpu = \"four\"\n", "  cpu = 4\n", 1);
    client.change(&project, 3, &fit);
    let fit_errors = client.diagnostics(&project);
    std::fs::write(&project, &fit).expect("write");
    let expected = check_json(&dir);
    assert!(
        expected.iter().any(|d| d.0 == "K0503"),
        "the edit breaks a fit check: {expected:?}"
    );
    assert_eq!(lsp_tuples(&fit_errors), expected);

    // Back to the example as it was: only its own warnings are left.
    client.change(&project, 4, &clean);
    assert_eq!(lsp_tuples(&client.diagnostics(&project)), baseline);
    client.shutdown();
}

#[test]
fn an_error_in_another_file_of_the_project_is_reported_there() {
    let dir = example_copy("tour");
    let main = dir.join("main.kiln");
    let common = dir.join("common.kiln");
    let main_text = std::fs::read_to_string(&main).expect("main.kiln");
    let common_text = std::fs::read_to_string(&common).expect("common.kiln");
    let mut client = Client::start(&dir);
    client.open(&main, &main_text);
    assert_eq!(client.diagnostics(&main), Vec::<Value>::new());
    assert_eq!(client.diagnostics(&common), Vec::<Value>::new());
    // Break a definition main.kiln imports: the error is in common.kiln, published for it
    // although only main.kiln is open.
    let let_line = common_text
        .lines()
        .find(|l| l.starts_with("let "))
        .expect("common.kiln has a let");
    let name = let_line[4..].split([' ', ':']).next().unwrap();
    std::fs::write(
        &common,
        common_text.replacen(let_line, &format!("let {name} = nope"), 1),
    )
    .expect("write");
    client.change(&main, 2, &main_text);
    let in_common = client.diagnostics(&common);
    assert!(
        in_common.iter().any(|d| d["code"] == "K0101"),
        "unknown name reported in common.kiln: {in_common:?}"
    );
    client.shutdown();
}

#[test]
fn hover_shows_type_doc_and_default_of_stdlib_fields_and_project_names() {
    let dir = example_copy("team");
    let project = dir.join("project.kiln");
    let text = std::fs::read_to_string(&project).expect("project.kiln");
    let mut client = Client::start(&dir);
    client.open(&project, &text);

    // A field of a stdlib type: its type, whether it has a default, and its doc comment.
    let hover = client.at("textDocument/hover", &project, &text, "  workspace = 50Gi", 3);
    let value = hover["contents"]["value"].as_str().expect("markdown hover");
    assert!(value.contains("workspace: Memory"), "{value}");
    assert!(
        value.contains("Size of the workspace PVC"),
        "doc comment from stdlib: {value}"
    );
    assert!(
        value.contains("notebook.kiln"),
        "names the stdlib module: {value}"
    );

    let hover = client.at("textDocument/hover", &project, &text, "  server_type = ", 3);
    let value = hover["contents"]["value"].as_str().expect("markdown hover");
    assert!(
        value.contains("server_type: kf.ServerType"),
        "stdlib types as users write them: {value}"
    );
    assert!(value.contains("optional"), "an optional field says so: {value}");

    let hover = client.at("textDocument/hover", &project, &text, "  workers = 4", 3);
    let value = hover["contents"]["value"].as_str().expect("markdown hover");
    assert!(value.contains("default: `1`"), "the declared default: {value}");

    // A project `let` with its doc comment.
    let hover = client.at("textDocument/hover", &project, &text, "gpu = kf.gpus(a100", 14);
    let value = hover["contents"]["value"].as_str().expect("markdown hover");
    assert!(value.contains("a100: kf.NodePool"), "{value}");
    assert!(
        value.contains("Eight A100-80GB per node"),
        "doc comment of the let: {value}"
    );

    // A stdlib function: its signature.
    let hover = client.at("textDocument/hover", &project, &text, "kf.gpus(a100", 4);
    let value = hover["contents"]["value"].as_str().expect("markdown hover");
    assert!(value.contains("fn gpus("), "{value}");
    client.shutdown();
}

#[test]
fn definition_goes_to_project_names_and_into_the_embedded_stdlib() {
    let dir = example_copy("tour");
    let main = dir.join("main.kiln");
    let common = dir.join("common.kiln");
    let text = std::fs::read_to_string(&main).expect("main.kiln");
    let common_text = std::fs::read_to_string(&common).expect("common.kiln");
    let mut client = Client::start(&dir);
    client.open(&main, &text);

    // Across an import: a use of `alias.name` goes to the declaration in the other file.
    let alias = text
        .lines()
        .find_map(|l| l.strip_prefix("import \"./common.kiln\" as "))
        .expect("main.kiln imports common.kiln")
        .trim()
        .to_string();
    let needle = format!("{alias}.");
    let use_at = text
        .match_indices(&needle)
        .map(|(i, _)| i)
        .find(|&i| text[..i].ends_with([' ', '(']))
        .expect("a use of the alias");
    let member: String = text[use_at + needle.len()..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let found = client.at(
        "textDocument/definition",
        &main,
        &text,
        &text[use_at..],
        needle.len(),
    );
    assert_eq!(found["uri"], uri(&common), "{found}");
    let line = found["range"]["start"]["line"].as_u64().unwrap() as usize;
    assert!(
        common_text.lines().nth(line).unwrap().contains(&member),
        "lands on the declaration of {member}: {found}"
    );

    client.shutdown();

    // Into the stdlib: a read-only virtual document whose text the server serves.
    let dir = example_copy("team");
    let main = dir.join("project.kiln");
    let text = std::fs::read_to_string(&main).expect("project.kiln");
    let mut client = Client::start(&dir);
    client.open(&main, &text);
    let found = client.at("textDocument/definition", &main, &text, "kf.Notebook", 3);
    let stdlib_uri = found["uri"].as_str().expect("a location").to_string();
    assert!(stdlib_uri.starts_with("kiln-stdlib:///"), "{found}");
    let source = client.request("kiln/stdlibSource", json!({ "uri": stdlib_uri }));
    let source = source["text"].as_str().expect("stdlib text");
    let line = found["range"]["start"]["line"].as_u64().unwrap() as usize;
    let written: String = text[text.find("kf.Notebook").unwrap() + 3..]
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    assert!(
        source.lines().nth(line).unwrap().contains(&written),
        "the stdlib line declares {written}"
    );
    // Hover works inside the stdlib document too.
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": stdlib_uri }, "position": found["range"]["start"] }),
    );
    assert!(hover["contents"]["value"].as_str().is_some(), "{hover}");
    client.shutdown();
}

fn labels(items: &Value) -> Vec<String> {
    let items = items
        .as_array()
        .or_else(|| items["items"].as_array())
        .expect("items");
    items
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn completion_offers_fields_required_first_enum_values_variants_helpers_and_module_members() {
    let dir = example_copy("team");
    let project = dir.join("project.kiln");
    let clean = std::fs::read_to_string(&project).expect("project.kiln");
    let mut client = Client::start(&dir);
    client.open(&project, &clean);
    assert_eq!(lsp_tuples(&client.diagnostics(&project)), check_json(&dir));

    // A new line in the Notebook: its fields not written yet, required first, with docs.
    let text = clean.replacen(
        "  server_type = \"jupyter\"\n",
        "  server_type = \"jupyter\"\n  \n",
        1,
    );
    client.change(&project, 2, &text);
    let items = client.at(
        "textDocument/completion",
        &project,
        &text,
        "  server_type = \"jupyter\"\n  \n",
        28,
    );
    let names = labels(&items);
    assert!(names.contains(&"shm".to_string()), "{names:?}");
    assert!(
        !names.contains(&"image".to_string()),
        "fields written already are left out"
    );
    let all = items.as_array().unwrap();
    let shm = all.iter().find(|i| i["label"] == "shm").unwrap();
    assert!(
        shm["documentation"]["value"]
            .as_str()
            .unwrap()
            .contains("Shared memory")
    );
    let mut sorted: Vec<&Value> = all.iter().collect();
    sorted.sort_by_key(|i| i["sortText"].as_str().unwrap().to_string());
    let required: Vec<bool> = sorted
        .iter()
        .map(|i| i["detail"].as_str().unwrap().ends_with("(required)"))
        .collect();
    assert!(
        required.windows(2).all(|w| w[0] >= w[1]),
        "required fields sort first: {sorted:?}"
    );

    // Typing the start of a field name (the file does not parse mid-edit): same fields.
    let text = clean.replacen(
        "  server_type = \"jupyter\"\n",
        "  server_type = \"jupyter\"\n  sh\n",
        1,
    );
    client.change(&project, 3, &text);
    let items = client.at("textDocument/completion", &project, &text, "\n  sh\n", 5);
    assert!(labels(&items).contains(&"shm".to_string()), "{items}");

    // The value of an enum field: its values.
    let text = clean.replacen("  server_type = \"jupyter\"\n", "  server_type = \n", 1);
    client.change(&project, 4, &text);
    let items = client.at(
        "textDocument/completion",
        &project,
        &text,
        "  server_type = \n",
        16,
    );
    let names = labels(&items);
    assert!(names.contains(&"\"group-one\"".to_string()), "{names:?}");

    // The value of a field whose type stdlib helpers build: `kf.` helpers returning it.
    let text = clean.replacen("  gpu = kf.gpus(a100, 1)\n", "  gpu = \n", 1);
    client.change(&project, 5, &text);
    let items = client.at("textDocument/completion", &project, &text, "  gpu = \n", 8);
    assert!(labels(&items).contains(&"kf.gpus".to_string()), "{items}");

    // A union-typed value: its variants.
    let text = clean.replacen(
        "  model = kf.sklearn(\"s3://models/churn/v3\")\n",
        "  model = \n",
        1,
    );
    client.change(&project, 6, &text);
    let items = client.at("textDocument/completion", &project, &text, "  model = \n", 10);
    assert!(
        !labels(&items).is_empty(),
        "variants or helpers of the model type: {items}"
    );

    // After `kf.`: the members of the module.
    let text = clean.replacen("  gpu = kf.gpus(a100, 1)\n", "  gpu = kf.\n", 1);
    client.change(&project, 7, &text);
    let items = client.at("textDocument/completion", &project, &text, "  gpu = kf.\n", 11);
    let names = labels(&items);
    for member in ["Notebook", "gpus", "TrainingJob", "sklearn"] {
        assert!(names.contains(&member.to_string()), "{member} in {names:?}");
    }
    client.shutdown();
}

#[test]
fn formatting_is_kiln_fmt_and_symbols_are_the_emitted_objects() {
    let dir = example_copy("team");
    let project = dir.join("project.kiln");
    let clean = std::fs::read_to_string(&project).expect("project.kiln");
    let mut client = Client::start(&dir);
    let messy = clean.replacen("  cpu = 4\n", "  cpu    =    4\n", 1);
    client.open(&project, &messy);
    let edits = client.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri(&project) }, "options": { "tabSize": 2, "insertSpaces": true } }),
    );
    let edits = edits.as_array().expect("edits");
    assert_eq!(edits.len(), 1);
    let fmt_check = kiln(&[
        "fmt",
        "--check",
        &repo_root()
            .join("examples/team/project.kiln")
            .display()
            .to_string(),
    ]);
    if fmt_check.code == 0 {
        assert_eq!(edits[0]["newText"], clean, "the formatted text is kiln fmt's");
    }

    let symbols = client.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri(&project) } }),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .expect("symbols")
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        &names[..7],
        [
            "kf.NodePool \"a100\"",
            "kf.Profile \"team-churn\"",
            "kf.Notebook \"churn-dev\"",
            "kf.TrainingJob \"churn-ddp\"",
            "kf.Experiment \"churn-hpo\"",
            "kf.InferenceService \"churn\"",
            "registry",
        ],
        "emitted objects first, then declarations: {names:?}"
    );
    client.shutdown();
}
