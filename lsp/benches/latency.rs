//! Diagnostics latency after an edit, on `examples/team` (target: under 50 ms).
//!
//! A client on an in-memory connection opens both files of the project, then edits
//! `project.kiln` repeatedly (alternating a clean edit and one that introduces a type error) and
//! times each edit until the server publishes that file's new diagnostics. Reported: median and
//! p95 with the default debounce and with none, and, as the yardstick, the compiler alone
//! (`compile` + `build::check` of the same project in this process), so the server's own
//! overhead shows as a ratio.
//!
//! Run: `cargo bench -p kiln-lsp --bench latency` (`KILN_LSP_BENCH_EDITS=N` for more edits).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use lsp_types::Url;
use serde_json::json;

fn main() {
    let edits: usize = std::env::var("KILN_LSP_BENCH_EDITS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(60);
    let team = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/team");
    let team = team.canonicalize().expect("examples/team exists");
    let compiler = compiler_alone(&team, edits, false);
    let with_facts = compiler_alone(&team, edits, true);
    println!("examples/team, {edits} edits each");
    println!("  compiler alone (compile + build::check): {}", show(&compiler));
    println!(
        "  compiler alone, recording facts (compile_with_facts + build::check): {}",
        show(&with_facts)
    );
    for debounce in [0u64, kiln_lsp::DEFAULT_DEBOUNCE.as_millis() as u64] {
        let server = through_server(&team, edits, debounce);
        println!(
            "  kiln lsp, debounce {debounce:>2} ms: edit -> publishDiagnostics {} (median {:.2}x the compiler alone)",
            show(&server),
            median(&server).as_secs_f64() / median(&compiler).as_secs_f64()
        );
    }
}

fn show(samples: &[Duration]) -> String {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let p95 = sorted[(sorted.len() * 95 / 100).min(sorted.len() - 1)];
    format!(
        "median {:.1} ms, p95 {:.1} ms",
        median(samples).as_secs_f64() * 1e3,
        p95.as_secs_f64() * 1e3
    )
}

fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// The two texts the edits alternate between: the file as it is, and with a type error.
fn versions(team: &Path) -> (PathBuf, String, String) {
    let path = team.join("project.kiln");
    let clean = std::fs::read_to_string(&path).expect("project.kiln");
    let broken = clean.replacen("cpu = 4\n", "cpu = \"four\"\n", 1);
    assert_ne!(clean, broken, "the edit applies");
    (path, clean, broken)
}

fn compiler_alone(team: &Path, edits: usize, facts: bool) -> Vec<Duration> {
    let (path, clean, broken) = versions(team);
    let pipeline = team.join("pipeline.kiln");
    let roots = vec![
        pipeline.to_string_lossy().into_owned(),
        path.to_string_lossy().into_owned(),
    ];
    let pipeline_text = std::fs::read_to_string(&pipeline).expect("pipeline.kiln");
    (0..edits)
        .map(|i| {
            let text = if i % 2 == 0 { &broken } else { &clean };
            let loader = kiln_compiler::source::MemoryLoader::new()
                .with(&roots[0], &pipeline_text)
                .with(&roots[1], text);
            let start = Instant::now();
            let options = kiln_compiler::Options::default();
            let compiled = if facts {
                kiln_compiler::compile_with_facts(&loader, &roots, &options).0
            } else {
                kiln_compiler::compile(&loader, &roots, &options)
            };
            let more = kiln_compiler::build::check(&compiled, None);
            std::hint::black_box((compiled, more));
            start.elapsed()
        })
        .collect()
}

fn through_server(team: &Path, edits: usize, debounce_ms: u64) -> Vec<Duration> {
    let (path, clean, broken) = versions(team);
    let uri = Url::from_file_path(&path).expect("absolute path");
    let (server, client) = Connection::memory();
    let thread = std::thread::spawn(move || {
        kiln_lsp::serve(server, &kiln_lsp::project::DiskLoader).expect("server runs")
    });
    let root = Url::from_file_path(team).expect("absolute path");
    request(
        &client,
        1,
        "initialize",
        json!({ "capabilities": {}, "rootUri": root, "initializationOptions": { "debounceMs": debounce_ms } }),
    );
    notify(&client, "initialized", json!({}));
    notify(
        &client,
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "kiln", "version": 0, "text": clean } }),
    );
    wait_diagnostics(&client, &uri);
    let mut samples = Vec::with_capacity(edits);
    for i in 0..edits {
        let text = if i % 2 == 0 { &broken } else { &clean };
        let start = Instant::now();
        notify(
            &client,
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": i + 1 },
                "contentChanges": [{ "text": text }],
            }),
        );
        let count = wait_diagnostics(&client, &uri);
        samples.push(start.elapsed());
        assert_eq!(count > 0, i % 2 == 0, "edit {i}: errors match the text");
    }
    request(&client, 2, "shutdown", json!(null));
    notify(&client, "exit", json!(null));
    drop(client);
    thread.join().expect("server thread");
    samples
}

fn request(client: &Connection, id: i32, method: &str, params: serde_json::Value) {
    client
        .sender
        .send(Message::Request(Request::new(
            RequestId::from(id),
            method.into(),
            params,
        )))
        .expect("send");
    loop {
        if let Message::Response(r) = client.receiver.recv().expect("response") {
            assert_eq!(r.id, RequestId::from(id));
            return;
        }
    }
}

fn notify(client: &Connection, method: &str, params: serde_json::Value) {
    client
        .sender
        .send(Message::Notification(Notification::new(method.into(), params)))
        .expect("send");
}

/// Waits for the diagnostics of `uri`; returns how many are errors (severity 1: the example's
/// own warnings, such as K0418 on its canary, are there in both texts).
fn wait_diagnostics(client: &Connection, uri: &Url) -> usize {
    loop {
        if let Message::Notification(n) = client.receiver.recv().expect("notification")
            && n.method == "textDocument/publishDiagnostics"
            && n.params["uri"] == json!(uri)
        {
            let diagnostics = n.params["diagnostics"].as_array();
            return diagnostics.map_or(0, |d| d.iter().filter(|d| d["severity"] == 1).count());
        }
    }
}
