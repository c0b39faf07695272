//! The answers to requests: hover, definition, completion, document symbols, formatting, and
//! the conversion of diagnostics. Each reads an [`Analysis`] (the compiler's own results and
//! facts); none of them parses or type-checks on its own, except that symbols and formatting
//! use `kiln_lang`'s parser and formatter, exactly as `kiln fmt` does.

use kiln_compiler::check::facts::{ExpectedFact, FieldFact, MemberFact, NameFact, NameKind, Shape};
use kiln_compiler::source::SourceMap;
use kiln_lang::ast::ItemKind;
use kiln_lang::{Diagnostic, FileId, Severity, Span};
use lsp_types::{
    CompletionItem, CompletionItemKind, DocumentSymbol, Documentation, Hover, HoverContents, MarkupContent,
    MarkupKind, Range, SymbolKind, TextEdit,
};

use crate::position::LineIndex;
use crate::project::Analysis;

/// A diagnostic as the editor shows it: the code, the message, the primary label's text, notes
/// and help (as `kiln check` prints them), secondary labels as related locations.
pub struct EditorDiagnostic {
    pub file: FileId,
    pub range: Range,
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    /// (file, range, message) of every label, the primary one first.
    pub labels: Vec<(FileId, Range, String)>,
}

pub fn diagnostics(analysis: &Analysis) -> Vec<EditorDiagnostic> {
    let sources = &analysis.compiled.sources;
    analysis
        .diagnostics
        .iter()
        .map(|d| editor_diagnostic(d, sources))
        .collect()
}

fn editor_diagnostic(d: &Diagnostic, sources: &SourceMap) -> EditorDiagnostic {
    let range_of = |span: Span| LineIndex::new(sources.text(span.file)).range(span.start, span.end);
    let mut message = d.message.clone();
    if !d.primary.message.is_empty() {
        message.push_str(&format!("\n{}", d.primary.message));
    }
    for note in &d.notes {
        message.push_str(&format!("\nnote: {note}"));
    }
    if let Some(help) = &d.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let mut labels = vec![(
        d.primary.span.file,
        range_of(d.primary.span),
        d.primary.message.clone(),
    )];
    labels.extend(
        d.secondary
            .iter()
            .map(|l| (l.span.file, range_of(l.span), l.message.clone())),
    );
    EditorDiagnostic {
        file: d.primary.span.file,
        range: range_of(d.primary.span),
        severity: d.severity,
        code: d.code.id,
        message,
        labels,
    }
}

/// The name fact under `offset` (the narrowest).
fn name_at(analysis: &Analysis, file: FileId, offset: usize) -> Option<&NameFact> {
    analysis
        .facts
        .names
        .iter()
        .filter(|n| n.span.file == file && covers(n.span, offset))
        .min_by_key(|n| n.span.end - n.span.start)
}

fn covers(span: Span, offset: usize) -> bool {
    span.start as usize <= offset && offset <= span.end as usize
}

/// Strictly inside (a cursor right after a closing brace is outside the literal).
fn inside(span: Span, offset: usize) -> bool {
    (span.start as usize) < offset && offset < span.end as usize
}

/// The `##` doc comment directly above the line of `span`.
pub fn doc_comment(sources: &SourceMap, span: Span) -> Option<String> {
    let text = sources.text(span.file);
    let start = (span.start as usize).min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let mut lines: Vec<&str> = text[..line_start]
        .lines()
        .rev()
        .map(str::trim_start)
        .take_while(|l| l.starts_with("##"))
        .map(|l| {
            l.trim_start_matches('#')
                .strip_prefix(' ')
                .unwrap_or(l.trim_start_matches('#'))
        })
        .collect();
    lines.reverse();
    let doc = lines.join("\n").trim().to_string();
    (!doc.is_empty()).then_some(doc)
}

/// The source line of a declaration, trimmed (`memory?: Memory`, `replicas: Int = 1`).
fn declaration_line(sources: &SourceMap, span: Span) -> String {
    let text = sources.text(span.file);
    let start = (span.start as usize).min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    text[line_start..line_end].trim().to_string()
}

/// The default written in a field declaration (`= 1` in `replicas: Int = 1`).
fn default_of(declaration: &str) -> Option<&str> {
    let colon = declaration.find(':')?;
    let rest = &declaration[colon..];
    // The type may contain `=` only inside a refinement or string (rare); the default follows
    // the first ` = `.
    rest.find(" = ").map(|i| rest[i + 3..].trim())
}

pub fn hover(analysis: &Analysis, file: FileId, offset: usize) -> Option<Hover> {
    let sources = &analysis.compiled.sources;
    let text = sources.text(file);
    let name = name_at(analysis, file, offset)?;
    let written = &text[name.span.start as usize..name.span.end as usize];
    let member = name.def.and_then(|def| member_at(analysis, def));
    let signature = match (name.kind, member) {
        (NameKind::Fn | NameKind::Type, Some(m)) => m.ty.clone(),
        _ => format!("{written}: {}", name.ty),
    };
    let mut value = format!("```kiln\n{signature}\n```");
    if let Some(def) = name.def {
        let origin = sources.name(def.file);
        if name.kind == NameKind::Field {
            let declaration = declaration_line(sources, def);
            if let Some(default) = default_of(&declaration) {
                value.push_str(&format!("\n\ndefault: `{default}`"));
            } else if declaration.contains('?') {
                value.push_str("\n\noptional");
            } else {
                value.push_str("\n\nrequired");
            }
        }
        if let Some(doc) = doc_comment(sources, def) {
            value.push_str(&format!("\n\n{doc}"));
        }
        value.push_str(&format!("\n\n*{}*", origin.trim_start_matches("<stdlib>/")));
    }
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range: Some(LineIndex::new(text).range(name.span.start, name.span.end)),
    })
}

/// The module member declared at `def`.
fn member_at(analysis: &Analysis, def: Span) -> Option<&MemberFact> {
    analysis
        .facts
        .modules
        .iter()
        .flat_map(|m| &m.members)
        .find(|m| m.span == def)
}

/// The declaration of the name under `offset`.
pub fn definition(analysis: &Analysis, file: FileId, offset: usize) -> Option<Span> {
    name_at(analysis, file, offset)?.def
}

/// Completion items at `offset` of `file`, whose current text is `text` (see the module doc of
/// `lib.rs` for how an analysis of an older text is used while the current one does not parse).
pub fn completion(analysis: &Analysis, file: FileId, text: &str, offset: usize) -> Vec<CompletionItem> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let word_start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .last()
        .map_or(before.len(), |(i, _)| i);
    let head = &before[..word_start];
    // `alias.` + partial name: the members of an imported module.
    if let Some(qualifier) = head.strip_suffix('.') {
        let alias: String = qualifier
            .chars()
            .rev()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return module_members(analysis, file, &alias);
    }
    let head = head.trim_end();
    let head = head.strip_suffix('"').unwrap_or(head).trim_end();
    let expected = innermost_expected(analysis, file, offset);
    match head.chars().last() {
        // The value of a field: what its type admits.
        Some('=') => {
            let key = head[..head.len() - 1].trim_end();
            let key: String = key
                .chars()
                .rev()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let Some(Shape::Record(fields)) = expected.and_then(|e| shape(analysis, e)) else {
                return Vec::new();
            };
            let Some(field) = fields.iter().find(|f| f.name == key) else {
                return Vec::new();
            };
            values_for(analysis, file, field)
        }
        // A field name: the fields of the record type expected here, required ones first.
        None | Some('{') | Some(',') => match expected.and_then(|e| shape(analysis, e)) {
            Some(Shape::Record(fields)) => {
                let span = expected.map_or(Span::default(), |e| e.span);
                record_fields(analysis, fields, span)
            }
            Some(Shape::Enum(values)) => enum_items(values),
            Some(Shape::Union(variants)) => variant_items(variants),
            None => Vec::new(),
        },
        _ => match expected.and_then(|e| shape(analysis, e)) {
            Some(Shape::Enum(values)) => enum_items(values),
            Some(Shape::Union(variants)) => variant_items(variants),
            _ => Vec::new(),
        },
    }
}

fn innermost_expected(analysis: &Analysis, file: FileId, offset: usize) -> Option<&ExpectedFact> {
    analysis
        .facts
        .expected
        .iter()
        .filter(|e| e.span.file == file && inside(e.span, offset))
        .min_by_key(|e| e.span.end - e.span.start)
}

fn shape<'a>(analysis: &'a Analysis, e: &ExpectedFact) -> Option<&'a Shape> {
    analysis.facts.shapes.get(e.shape?)
}

fn record_fields(analysis: &Analysis, fields: &[FieldFact], literal: Span) -> Vec<CompletionItem> {
    let sources = &analysis.compiled.sources;
    // Fields already written in this literal resolve to the declaration of one of these fields.
    let present: Vec<Span> = analysis
        .facts
        .names
        .iter()
        .filter(|n| {
            n.kind == NameKind::Field && n.span.file == literal.file && inside(literal, n.span.start as usize)
        })
        .filter_map(|n| n.def)
        .collect();
    fields
        .iter()
        .filter(|f| !present.contains(&f.span))
        .map(|f| {
            let declaration = declaration_line(sources, f.span);
            let detail = match default_of(&declaration) {
                Some(default) => format!("{} = {default}", f.ty),
                None if f.required => format!("{} (required)", f.ty),
                None => format!("{} (optional)", f.ty),
            };
            CompletionItem {
                label: f.name.clone(),
                kind: Some(CompletionItemKind::FIELD),
                detail: Some(detail),
                documentation: doc_comment(sources, f.span).map(markdown),
                sort_text: Some(format!("{}{}", if f.required { 0 } else { 1 }, f.name)),
                insert_text: Some(format!("{} = ", f.name)),
                ..CompletionItem::default()
            }
        })
        .collect()
}

fn markdown(value: String) -> Documentation {
    Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value,
    })
}

fn enum_items(values: &[String]) -> Vec<CompletionItem> {
    values
        .iter()
        .map(|v| CompletionItem {
            label: v.clone(),
            kind: Some(CompletionItemKind::ENUM_MEMBER),
            ..CompletionItem::default()
        })
        .collect()
}

fn variant_items(variants: &[(String, Vec<FieldFact>)]) -> Vec<CompletionItem> {
    variants
        .iter()
        .map(|(tag, fields)| {
            let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            CompletionItem {
                label: tag.clone(),
                kind: Some(CompletionItemKind::ENUM_MEMBER),
                detail: Some(format!("{tag} {{ {} }}", names.join(", "))),
                insert_text: Some(format!("{tag} {{ }}")),
                ..CompletionItem::default()
            }
        })
        .collect()
}

/// What a field's value can be: its enum values or union variants, and the functions of the
/// file's imported modules that return its type (`kf.gpus(..)` for a `Gpu`).
fn values_for(analysis: &Analysis, file: FileId, field: &FieldFact) -> Vec<CompletionItem> {
    let mut items = match field_shape(analysis, field) {
        Some(Shape::Enum(values)) => enum_items(values),
        Some(Shape::Union(variants)) => variant_items(variants),
        _ => Vec::new(),
    };
    let Some(module) = analysis.facts.modules.iter().find(|m| m.file == file) else {
        return items;
    };
    for (alias, target) in &module.imports {
        let Some(target) = target.and_then(|t| analysis.facts.modules.get(t)) else {
            continue;
        };
        for member in &target.members {
            if member.kind == NameKind::Fn && returns(&member.ty, &field.ty) {
                items.push(CompletionItem {
                    label: format!("{alias}.{}", member.name),
                    kind: Some(CompletionItemKind::FUNCTION),
                    detail: Some(member.ty.clone()),
                    documentation: doc_comment(&analysis.compiled.sources, member.span).map(markdown),
                    insert_text: Some(format!("{alias}.{}(", member.name)),
                    ..CompletionItem::default()
                });
            }
        }
    }
    items
}

/// Whether a signature `fn f(..) -> T` returns `ty`.
fn returns(signature: &str, ty: &str) -> bool {
    signature.rsplit_once(" -> ").is_some_and(|(_, ret)| ret == ty)
}

/// The shape of a field's own type: found where that type was expected somewhere in the
/// project, else by its name among the shapes of enum and union types.
fn field_shape<'a>(analysis: &'a Analysis, field: &FieldFact) -> Option<&'a Shape> {
    analysis
        .facts
        .expected
        .iter()
        .find(|e| e.ty == field.ty && e.shape.is_some())
        .and_then(|e| shape(analysis, e))
        .or_else(|| {
            // Enum literal types print as their values (`"a" | "b"`).
            analysis.facts.shapes.iter().find(|s| match s {
                Shape::Enum(values) => values.join(" | ") == field.ty,
                _ => false,
            })
        })
}

fn module_members(analysis: &Analysis, file: FileId, alias: &str) -> Vec<CompletionItem> {
    let sources = &analysis.compiled.sources;
    let Some(module) = analysis.facts.modules.iter().find(|m| m.file == file) else {
        return Vec::new();
    };
    let Some(target) = module
        .imports
        .iter()
        .find(|(a, _)| a == alias)
        .and_then(|(_, t)| t.and_then(|t| analysis.facts.modules.get(t)))
    else {
        return Vec::new();
    };
    target
        .members
        .iter()
        .map(|m| CompletionItem {
            label: m.name.clone(),
            kind: Some(match m.kind {
                NameKind::Fn => CompletionItemKind::FUNCTION,
                NameKind::Type => CompletionItemKind::STRUCT,
                _ => CompletionItemKind::VARIABLE,
            }),
            detail: Some(m.ty.clone()),
            documentation: doc_comment(sources, m.span).map(markdown),
            ..CompletionItem::default()
        })
        .collect()
}

/// The objects a file emits (what `kiln build` turns into manifests), then its `let`s, `fn`s and
/// `type`s.
#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written; it is `None`.
pub fn symbols(text: &str) -> Vec<DocumentSymbol> {
    let parsed = kiln_lang::parse(FileId(0), text);
    let index = LineIndex::new(text);
    let range = |s: Span| index.range(s.start, s.end);
    let mut emitted = Vec::new();
    let mut declared = Vec::new();
    for item in &parsed.file.items {
        let (name, detail, kind, selection, list) = match &item.kind {
            ItemKind::Emit { ty, name, .. } => {
                let ty_text = &text[ty.span.start as usize..ty.span.end as usize];
                let name_text = &text[name.span.start as usize..name.span.end as usize];
                (
                    format!("{ty_text} {name_text}"),
                    Some(ty_text.to_string()),
                    SymbolKind::OBJECT,
                    name.span,
                    &mut emitted,
                )
            }
            ItemKind::Let { name, .. } | ItemKind::Fn { name, .. } | ItemKind::Type { name, .. } => {
                let kind = match &item.kind {
                    ItemKind::Let { .. } => SymbolKind::VARIABLE,
                    ItemKind::Fn { .. } => SymbolKind::FUNCTION,
                    _ => SymbolKind::STRUCT,
                };
                (name.name.clone(), None, kind, name.span, &mut declared)
            }
            ItemKind::Import { .. } => continue,
        };
        list.push(DocumentSymbol {
            name,
            detail,
            kind,
            tags: None,
            deprecated: None,
            range: range(item.span),
            selection_range: range(selection),
            children: None,
        });
    }
    emitted.extend(declared);
    emitted
}

/// `kiln fmt` of the whole document, as one edit (`None` when it is formatted already or does
/// not parse).
pub fn format(text: &str) -> Option<TextEdit> {
    let formatted = kiln_lang::format::format_source(FileId(0), text).ok()?;
    if formatted == text {
        return None;
    }
    let index = LineIndex::new(text);
    Some(TextEdit {
        range: index.range(0, text.len() as u32),
        new_text: formatted,
    })
}
