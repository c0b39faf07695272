//! The kiln language server (`kiln lsp`, LSP over stdio).
//!
//! Everything it knows comes from the compiler as it is: diagnostics are those of `kiln check`
//! (compilation, then lowering and fit checks) for the whole project of a file; hover,
//! definition and completion read the facts the checker records while it checks
//! (`kiln_compiler::check::facts`); formatting is `kiln fmt`; document symbols are the objects a
//! file emits. There is no second parser or checker.
//!
//! Flow: edits update the open documents at once and mark their project dirty; the project is
//! compiled when no edit came for [`DEFAULT_DEBOUNCE`] (diagnostics as you type, without compiling
//! on every keystroke), or at once when a request needs fresh facts. While a file does not parse
//! (mid-edit), completion uses the project's last analysis in which it did, with the cursor
//! mapped across the edit (see [`Server::completion`]).
//!
//! The standard library is served as read-only virtual documents `kiln-stdlib:///NAME.kiln`:
//! definitions point there, and the custom request `kiln/stdlibSource` returns their text (the
//! VS Code extension registers a content provider for the scheme).
//!
//! Modules: [`project`] (which files compile together, the analysis), [`features`] (answers to
//! requests), [`position`] (offsets and LSP positions).

pub mod features;
pub mod position;
pub mod project;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest, Request as _,
};
use lsp_types::{
    CompletionOptions, CompletionParams, CompletionResponse, Diagnostic, DiagnosticRelatedInformation,
    DiagnosticSeverity, DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    DocumentFormattingParams, DocumentSymbolParams, DocumentSymbolResponse, GotoDefinitionParams,
    GotoDefinitionResponse, HoverParams, InitializeParams, Location, NumberOrString, OneOf,
    PublishDiagnosticsParams, ServerCapabilities, TextDocumentSyncCapability, TextDocumentSyncKind, Url,
};

use kiln_compiler::source::SourceLoader;

use crate::position::LineIndex;
use crate::project::Analysis;

/// How long the server waits after an edit before compiling (edits within it coalesce).
/// Clients may set `initializationOptions.debounceMs`.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(20);

/// The URI scheme of the embedded standard library.
pub const STDLIB_SCHEME: &str = "kiln-stdlib";

/// Serves one client over stdin/stdout until it exits; files that are not open in the editor
/// are read from disk.
pub fn run_stdio() -> Result<(), String> {
    let (connection, threads) = Connection::stdio();
    serve(connection, &project::DiskLoader).map_err(|e| e.to_string())?;
    threads.join().map_err(|e| e.to_string())
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Serves one client on `connection` (stdio, or in memory for benchmarks).
pub fn serve(connection: Connection, disk: &dyn SourceLoader) -> Result<(), Failure> {
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), "=".into(), "{".into(), "\"".into()]),
            ..CompletionOptions::default()
        }),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    };
    let (id, params) = connection.initialize_start()?;
    let init: InitializeParams = serde_json::from_value(params)?;
    connection.initialize_finish(
        id,
        serde_json::json!({
            "capabilities": capabilities,
            "serverInfo": { "name": "kiln", "version": env!("CARGO_PKG_VERSION") },
        }),
    )?;
    let mut server = Server::new(&init, disk);
    loop {
        let message = match server.deadline {
            Some(deadline) => {
                match connection
                    .receiver
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    Ok(m) => Some(m),
                    Err(e) if e.is_timeout() => None,
                    Err(_) => break,
                }
            }
            None => match connection.receiver.recv() {
                Ok(m) => Some(m),
                Err(_) => break,
            },
        };
        match message {
            None => server.publish_dirty(&connection)?,
            Some(Message::Request(request)) => {
                if connection.handle_shutdown(&request)? {
                    break;
                }
                let response = server.request(request, &connection)?;
                connection.sender.send(Message::Response(response))?;
            }
            Some(Message::Notification(notification)) => server.notification(notification),
            Some(Message::Response(_)) => {}
        }
    }
    Ok(())
}

/// One compiled project and the files it last published diagnostics for.
struct Project {
    analysis: Analysis,
    /// The last analysis in which no file had a syntax error, for completion mid-edit.
    parsed: Option<Analysis>,
    published: BTreeSet<String>,
}

struct Server<'a> {
    disk: &'a dyn SourceLoader,
    workspace: Option<PathBuf>,
    debounce: Duration,
    /// Open documents (file URIs), by path.
    open: HashMap<PathBuf, String>,
    projects: HashMap<PathBuf, Project>,
    dirty: BTreeSet<PathBuf>,
    deadline: Option<Instant>,
    /// The project whose analysis serves requests on stdlib documents.
    last_project: Option<PathBuf>,
}

impl<'a> Server<'a> {
    fn new(init: &InitializeParams, disk: &'a dyn SourceLoader) -> Self {
        #[allow(deprecated)] // `root_uri` is what older clients send.
        let workspace = init
            .workspace_folders
            .as_ref()
            .and_then(|f| f.first())
            .map(|f| f.uri.clone())
            .or_else(|| init.root_uri.clone())
            .and_then(|u| u.to_file_path().ok());
        let debounce = init
            .initialization_options
            .as_ref()
            .and_then(|o| o.get("debounceMs"))
            .and_then(serde_json::Value::as_u64)
            .map_or(DEFAULT_DEBOUNCE, Duration::from_millis);
        Server {
            disk,
            workspace,
            debounce,
            open: HashMap::new(),
            projects: HashMap::new(),
            dirty: BTreeSet::new(),
            deadline: None,
            last_project: None,
        }
    }

    fn project_of(&self, path: &Path) -> PathBuf {
        project::project_dir(path, self.workspace.as_deref())
    }

    fn touch(&mut self, path: &Path) {
        let dir = self.project_of(path);
        self.dirty.insert(dir);
        self.deadline = Some(Instant::now() + self.debounce);
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<DidOpenTextDocumentParams>(n.params)
                    && let Ok(path) = p.text_document.uri.to_file_path()
                {
                    self.open.insert(path.clone(), p.text_document.text);
                    self.touch(&path);
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<DidChangeTextDocumentParams>(n.params)
                    && let Ok(path) = p.text_document.uri.to_file_path()
                    && let Some(change) = p.content_changes.into_iter().last()
                {
                    self.open.insert(path.clone(), change.text);
                    self.touch(&path);
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(p) = serde_json::from_value::<DidCloseTextDocumentParams>(n.params)
                    && let Ok(path) = p.text_document.uri.to_file_path()
                {
                    self.open.remove(&path);
                    self.touch(&path);
                }
            }
            // Saving changes no text we do not have; other files may have changed on disk.
            DidSaveTextDocument::METHOD => {}
            _ => {}
        }
    }

    /// Compiles the project in `dir` now.
    fn analyze(&mut self, dir: &Path) -> &mut Project {
        self.dirty.remove(dir);
        if self.dirty.is_empty() {
            self.deadline = None;
        }
        let files = project::project_files(dir, &self.open);
        let analysis = Analysis::run(dir, files, &self.open, self.disk);
        let parses = !analysis
            .diagnostics
            .iter()
            .any(|d| d.is_error() && d.code.id.starts_with("K00"));
        let project = self.projects.entry(dir.to_path_buf()).or_insert_with(|| Project {
            analysis: Analysis::run(dir, Vec::new(), &HashMap::new(), self.disk),
            parsed: None,
            published: BTreeSet::new(),
        });
        let previous = std::mem::replace(&mut project.analysis, analysis);
        if parses {
            project.parsed = None;
        } else if project.parsed.is_none() && previous_parses(&previous) {
            project.parsed = Some(previous);
        }
        self.last_project = Some(dir.to_path_buf());
        project
    }

    /// Compiles every dirty project and publishes its diagnostics.
    fn publish_dirty(&mut self, connection: &Connection) -> Result<(), Failure> {
        let dirty: Vec<PathBuf> = std::mem::take(&mut self.dirty).into_iter().collect();
        self.deadline = None;
        for dir in dirty {
            self.analyze(&dir);
            self.publish(&dir, connection)?;
        }
        Ok(())
    }

    fn publish(&mut self, dir: &Path, connection: &Connection) -> Result<(), Failure> {
        let Some(project) = self.projects.get_mut(dir) else {
            return Ok(());
        };
        let sources = &project.analysis.compiled.sources;
        let mut by_file: std::collections::BTreeMap<String, Vec<Diagnostic>> = project
            .analysis
            .files
            .iter()
            .map(|f| (f.clone(), Vec::new()))
            .collect();
        for d in features::diagnostics(&project.analysis) {
            let name = sources.name(d.file).to_string();
            if name.starts_with("<stdlib>/") {
                continue;
            }
            let related = d
                .labels
                .iter()
                .filter(|(_, _, message)| !message.is_empty())
                .filter_map(|(file, range, message)| {
                    Some(DiagnosticRelatedInformation {
                        location: Location::new(project.analysis.uri(sources.name(*file))?, *range),
                        message: message.clone(),
                    })
                })
                .collect();
            by_file.entry(name).or_default().push(Diagnostic {
                range: d.range,
                severity: Some(match d.severity {
                    kiln_lang::Severity::Error => DiagnosticSeverity::ERROR,
                    kiln_lang::Severity::Warning => DiagnosticSeverity::WARNING,
                }),
                code: Some(NumberOrString::String(d.code.to_string())),
                source: Some("kiln".into()),
                message: d.message,
                related_information: Some(related),
                ..Diagnostic::default()
            });
        }
        // Files that had diagnostics before but are no longer in the project get an empty list.
        for old in std::mem::take(&mut project.published) {
            by_file.entry(old).or_default();
        }
        for (name, diagnostics) in by_file {
            let Some(uri) = project.analysis.uri(&name) else {
                continue;
            };
            if !diagnostics.is_empty() {
                project.published.insert(name.clone());
            }
            let params = PublishDiagnosticsParams::new(uri, diagnostics, None);
            connection.sender.send(Message::Notification(Notification::new(
                PublishDiagnostics::METHOD.to_string(),
                params,
            )))?;
        }
        Ok(())
    }

    fn request(&mut self, request: Request, connection: &Connection) -> Result<Response, Failure> {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            HoverRequest::METHOD => {
                let p: HoverParams = serde_json::from_value(request.params)?;
                let at = p.text_document_position_params;
                self.at(
                    &at.text_document.uri,
                    at.position,
                    connection,
                    |a, file, offset, _| serde_json::to_value(features::hover(a, file, offset)),
                )?
            }
            GotoDefinition::METHOD => {
                let p: GotoDefinitionParams = serde_json::from_value(request.params)?;
                let at = p.text_document_position_params;
                self.at(
                    &at.text_document.uri,
                    at.position,
                    connection,
                    |a, file, offset, _| {
                        let location = features::definition(a, file, offset).and_then(|span| {
                            let sources = &a.compiled.sources;
                            let range = LineIndex::new(sources.text(span.file)).range(span.start, span.end);
                            Some(GotoDefinitionResponse::Scalar(Location::new(
                                a.uri(sources.name(span.file))?,
                                range,
                            )))
                        });
                        serde_json::to_value(location)
                    },
                )?
            }
            Completion::METHOD => {
                let p: CompletionParams = serde_json::from_value(request.params)?;
                let at = p.text_document_position;
                self.completion(&at.text_document.uri, at.position, connection)?
            }
            DocumentSymbolRequest::METHOD => {
                let p: DocumentSymbolParams = serde_json::from_value(request.params)?;
                let text = self.text_of(&p.text_document.uri);
                serde_json::to_value(text.map(|t| DocumentSymbolResponse::Nested(features::symbols(&t))))?
            }
            Formatting::METHOD => {
                let p: DocumentFormattingParams = serde_json::from_value(request.params)?;
                let text = self.text_of(&p.text_document.uri);
                serde_json::to_value(text.and_then(|t| features::format(&t)).map(|edit| vec![edit]))?
            }
            "kiln/stdlibSource" => {
                let uri: Url = serde_json::from_value(request.params["uri"].clone())?;
                serde_json::json!({ "text": stdlib_name(&uri).and_then(stdlib_text) })
            }
            _ => {
                return Ok(Response::new_err(
                    id,
                    lsp_server::ErrorCode::MethodNotFound as i32,
                    format!("kiln lsp does not implement {}", request.method),
                ));
            }
        };
        Ok(Response::new_ok(id, result))
    }

    /// The current text of a document: open file, file on disk, or stdlib module.
    fn text_of(&self, uri: &Url) -> Option<String> {
        if let Some(name) = stdlib_name(uri) {
            return stdlib_text(name);
        }
        let path = uri.to_file_path().ok()?;
        self.open
            .get(&path)
            .cloned()
            .or_else(|| std::fs::read_to_string(&path).ok())
    }

    /// Runs `answer` on the fresh analysis of the document at `uri`, with the file's id in it and
    /// the byte offset of `position`.
    fn at(
        &mut self,
        uri: &Url,
        position: lsp_types::Position,
        connection: &Connection,
        answer: impl FnOnce(&Analysis, kiln_lang::FileId, usize, &str) -> serde_json::Result<serde_json::Value>,
    ) -> Result<serde_json::Value, Failure> {
        let Some((dir, name)) = self.locate(uri, connection)? else {
            return Ok(serde_json::Value::Null);
        };
        let analysis = &self.projects[&dir].analysis;
        let Some(file) = analysis.file(&name) else {
            return Ok(serde_json::Value::Null);
        };
        let text = analysis.compiled.sources.text(file).to_string();
        let offset = LineIndex::new(&text).offset(position);
        Ok(answer(analysis, file, offset, &text)?)
    }

    /// The project of a document (compiled now if dirty or new) and the file's name in it.
    fn locate(&mut self, uri: &Url, connection: &Connection) -> Result<Option<(PathBuf, String)>, Failure> {
        if let Some(module) = stdlib_name(uri) {
            return Ok(self
                .last_project
                .clone()
                .map(|dir| (dir, format!("<stdlib>/{module}.kiln"))));
        }
        let Ok(path) = uri.to_file_path() else {
            return Ok(None);
        };
        let dir = self.project_of(&path);
        if self.dirty.contains(&dir) || !self.projects.contains_key(&dir) {
            self.analyze(&dir);
            self.publish(&dir, connection)?;
        }
        Ok(Some((dir, path.to_string_lossy().into_owned())))
    }

    /// Completion on the current text, with the facts of the current analysis, or, while the
    /// file does not parse, of the last one that did: the cursor is mapped into that older text
    /// by the common prefix and suffix of the two texts (the edit in between is what the user is
    /// typing, so the cursor maps to where the edit starts).
    fn completion(
        &mut self,
        uri: &Url,
        position: lsp_types::Position,
        connection: &Connection,
    ) -> Result<serde_json::Value, Failure> {
        let Some((dir, name)) = self.locate(uri, connection)? else {
            return Ok(serde_json::Value::Null);
        };
        let Some(text) = self.text_of(uri) else {
            return Ok(serde_json::Value::Null);
        };
        let offset = LineIndex::new(&text).offset(position);
        let project = &self.projects[&dir];
        let current = &project.analysis;
        let items = match (&project.parsed, current.file(&name)) {
            (Some(parsed), _) if parsed.file(&name).is_some() => {
                let file = parsed.file(&name).expect("checked");
                let old = parsed.compiled.sources.text(file);
                let mut items = features::completion(parsed, file, &text, map_offset(old, &text, offset));
                // The text before the cursor decides the context; it is the same in both texts
                // up to the edit, so completing on the current text is right.
                if items.is_empty()
                    && let Some(file) = current.file(&name)
                {
                    items = features::completion(current, file, &text, offset);
                }
                items
            }
            (_, Some(file)) => features::completion(current, file, &text, offset),
            _ => Vec::new(),
        };
        Ok(serde_json::to_value(CompletionResponse::Array(items))?)
    }
}

fn previous_parses(analysis: &Analysis) -> bool {
    !analysis.files.is_empty()
        && !analysis
            .diagnostics
            .iter()
            .any(|d| d.is_error() && d.code.id.starts_with("K00"))
}

/// Maps `offset` in `new` to the corresponding offset in `old` (see [`Server::completion`]).
fn map_offset(old: &str, new: &str, offset: usize) -> usize {
    let prefix = old.bytes().zip(new.bytes()).take_while(|(a, b)| a == b).count();
    if offset <= prefix {
        return offset;
    }
    let suffix = old
        .bytes()
        .rev()
        .zip(new.bytes().rev())
        .take_while(|(a, b)| a == b)
        .count()
        .min(old.len() - prefix)
        .min(new.len() - prefix);
    if offset >= new.len() - suffix {
        offset + old.len() - new.len()
    } else {
        prefix
    }
}

/// The URI of a stdlib module's name (`<stdlib>/x.kiln` -> `kiln-stdlib:///x.kiln`).
pub fn uri_of(name: &str) -> Option<Url> {
    let module = name.strip_prefix("<stdlib>/")?;
    Url::parse(&format!("{STDLIB_SCHEME}:///{module}")).ok()
}

/// The source of an embedded stdlib module.
fn stdlib_text(module: &str) -> Option<String> {
    kiln_compiler::resolve::STDLIB
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, text)| text.to_string())
}

/// The stdlib module of a `kiln-stdlib:///x.kiln` URI (`x`).
fn stdlib_name(uri: &Url) -> Option<&str> {
    if uri.scheme() != STDLIB_SCHEME {
        return None;
    }
    uri.path().trim_start_matches('/').strip_suffix(".kiln")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_offsets_across_an_edit() {
        let old = "a {\n  x = 1\n}\n";
        let new = "a {\n  x = 1\n  fr\n}\n";
        let cursor = new.find("fr").unwrap() + 2;
        assert_eq!(map_offset(old, new, cursor), old.find('}').unwrap());
        assert_eq!(map_offset(old, new, 2), 2);
        assert_eq!(map_offset(old, new, new.len()), old.len());
    }

    #[test]
    fn stdlib_uris_round_trip() {
        let uri = uri_of("<stdlib>/kubeflow.kiln").unwrap();
        assert_eq!(uri.as_str(), "kiln-stdlib:///kubeflow.kiln");
        assert_eq!(stdlib_name(&uri), Some("kubeflow"));
    }
}
