//! Loading Kubernetes manifests: every `*.yaml`/`*.yml`/`*.json` file under a folder,
//! recursively, each YAML file split into its documents.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// One document of one manifest file.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file it came from.
    pub file: PathBuf,
    /// Its position in the file (0-based, counting non-empty documents only).
    pub index: usize,
    /// The document as JSON.
    pub value: Value,
}

impl Document {
    /// `file#index (Kind name)`, for messages.
    pub fn label(&self, base: &Path) -> String {
        let rel = self.file.strip_prefix(base).unwrap_or(&self.file);
        let kind = self.value.get("kind").and_then(Value::as_str).unwrap_or("?");
        let meta = self.value.get("metadata");
        let name = meta
            .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
            .and_then(Value::as_str)
            .unwrap_or("?");
        format!("{}#{} ({kind} {name})", rel.display(), self.index)
    }
}

/// Manifest files under `dir`, recursively, sorted; an absent folder yields none.
pub fn manifest_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Parses one file into its non-empty documents (a JSON array yields its elements; a
/// `kind: List` is not expanded).
///
/// # Errors
/// A read or parse error, as text.
pub fn load_file(path: &Path) -> Result<Vec<Document>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut values = Vec::new();
    if path.extension().and_then(|e| e.to_str()) == Some("json") {
        match serde_json::from_str::<Value>(&text).map_err(|e| format!("invalid JSON: {e}"))? {
            Value::Array(items) => values.extend(items),
            v => values.push(v),
        }
    } else {
        for (i, doc) in serde_norway::Deserializer::from_str(&text).enumerate() {
            let v = Value::deserialize(doc).map_err(|e| format!("invalid YAML document {i}: {e}"))?;
            values.push(v);
        }
    }
    Ok(values
        .into_iter()
        .filter(|v| !v.is_null())
        .enumerate()
        .map(|(index, value)| Document {
            file: path.to_path_buf(),
            index,
            value,
        })
        .collect())
}

/// Fills envsubst-style placeholders `${UPPER_CASE_NAME}` (in string values and mapping keys)
/// the way a template's user would: with a DNS-1123 value made from the variable name
/// (`${PODDEFAULT_NAME}` -> `poddefault-name`). Other `${...}` forms, such as Katib's
/// `${trialParameters.lr}`, are content and stay. Returns the placeholders filled.
pub fn fill_placeholders(value: &mut Value) -> Vec<String> {
    let mut filled = Vec::new();
    fill(value, &mut filled);
    filled.sort();
    filled.dedup();
    filled
}

fn fill(value: &mut Value, filled: &mut Vec<String>) {
    match value {
        Value::String(s) => *s = fill_str(s, filled),
        Value::Array(items) => items.iter_mut().for_each(|v| fill(v, filled)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                fill(&mut v, filled);
                map.insert(fill_str(&k, filled), v);
            }
        }
        _ => {}
    }
}

fn fill_str(s: &str, filled: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        let is_env = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_uppercase())
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        out.push_str(&rest[..start]);
        if is_env {
            out.push_str(&name.to_ascii_lowercase().replace('_', "-"));
            filled.push(format!("${{{name}}}"));
        } else {
            out.push_str(&rest[start..start + 3 + end]);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::{fill_placeholders, load_file};

    #[test]
    fn fills_env_placeholders_only() {
        let mut v = serde_json::json!({
            "metadata": {"name": "${PODDEFAULT_NAME}"},
            "spec": {"labels": {"${PODDEFAULT_NAME}": "true"}, "args": ["--lr=${trialParameters.lr}", "${X}-${Y_2}"]},
        });
        let filled = fill_placeholders(&mut v);
        assert_eq!(filled, ["${PODDEFAULT_NAME}", "${X}", "${Y_2}"]);
        assert_eq!(v["metadata"]["name"], "poddefault-name");
        assert_eq!(v["spec"]["labels"]["poddefault-name"], "true");
        assert_eq!(v["spec"]["args"][0], "--lr=${trialParameters.lr}");
        assert_eq!(v["spec"]["args"][1], "x-y-2");
    }

    #[test]
    fn splits_multi_document_yaml_and_skips_empty_documents() {
        let dir = std::env::temp_dir().join(format!("kiln-ts-manifests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("x.yaml");
        std::fs::write(
            &f,
            "---\napiVersion: v1\nkind: A\n---\n# only a comment\n---\napiVersion: v1\nkind: B\n",
        )
        .unwrap();
        let docs = load_file(&f).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let kinds: Vec<_> = docs.iter().map(|d| d.value["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["A", "B"]);
        assert_eq!(docs[1].index, 1);
    }
}
