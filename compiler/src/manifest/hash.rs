//! Content hash, source trace and content-derived names.
//!
//! **Hash.** `kiln.dev/content-hash` is blake3, as 64 lowercase hex digits without a prefix,
//! of the object's hash form: compact JSON with the keys of every object sorted (byte order)
//! and no whitespace, strings escaped as `serde_json` does, and with two annotations left out:
//! - `kiln.dev/content-hash` itself (it cannot cover itself);
//! - `kiln.dev/source` (the trace: the file's path relative to the project root): provenance,
//!   not content; a moved declaration must not count as a change, least of all rename a run.
//!
//! If leaving them out empties `metadata.annotations`, the empty map is dropped too, so an
//! object that never had annotations hashes the same. The reconciler recomputes the hash with
//! this same function (kiln-reconciler `object.rs`), so a stale hash cannot hide an edit. A
//! consequence: an edit that only moves a declaration leaves the hash, and therefore the live
//! object, unchanged; the live `kiln.dev/source` may then name the old file until the next
//! real change.
//!
//! **Run-like objects** (training jobs, experiments, pipeline versions: objects whose spec the
//! controller rejects updates to) are named `base-<first 8 hex of the hash>` by
//! [`name_by_content`], so a changed spec creates a new run instead of a rejected update, and an
//! unchanged one is the same object (no duplicate run). Which kinds are run-like is the
//! lowering's decision (the stdlib), not this module's.

use serde_json::Value;

use super::Manifest;

/// The annotation carrying the content hash.
pub const CONTENT_HASH: &str = "kiln.dev/content-hash";
/// The annotation tracing an object to the file that declares it (`team/project.kiln`).
pub const SOURCE: &str = "kiln.dev/source";
/// Annotations that the hash does not cover (see the module doc).
const UNHASHED: [&str; 2] = [CONTENT_HASH, SOURCE];
/// Maximum length of a DNS-1123 label, the strictest name rule among the kinds kiln emits.
const DNS_LABEL_MAX: usize = 63;
/// Hex digits of the hash used in a content-derived name.
const NAME_HASH_LEN: usize = 8;

/// The hash form of `value` (see the module doc): sorted compact JSON without the unhashed
/// annotations. Exposed for debugging and tests; [`content_hash`] hashes exactly these bytes.
pub fn hash_form(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    write_top(value, &mut out);
    out
}

/// blake3 hex of the hash form of `value`.
pub fn content_hash(value: &Value) -> String {
    blake3::hash(&hash_form(value)).to_hex().to_string()
}

/// Computes the content hash and stores it in `kiln.dev/content-hash`; returns it.
pub fn stamp(manifest: &mut Manifest) -> String {
    let hash = content_hash(manifest.value());
    manifest.set_annotation(CONTENT_HASH, &hash);
    hash
}

/// Sets the `kiln.dev/source` trace (the caller formats it, e.g. `team/train.kiln`).
pub fn set_source(manifest: &mut Manifest, source: &str) {
    manifest.set_annotation(SOURCE, source);
}

/// `base-<first 8 hex of hash>`, with `base` shortened so the result fits a 63-character DNS
/// label (a trailing `-` or `.` left by the cut is dropped so the name stays valid). `hash` may
/// carry a `blake3:` prefix.
pub fn content_name(base: &str, hash: &str) -> String {
    let hex = hash.strip_prefix("blake3:").unwrap_or(hash);
    let suffix = &hex[..hex.len().min(NAME_HASH_LEN)];
    let room = DNS_LABEL_MAX - NAME_HASH_LEN - 1;
    let mut cut = base.len().min(room);
    while !base.is_char_boundary(cut) {
        cut -= 1;
    }
    let base = base[..cut].trim_end_matches(['-', '.']);
    format!("{base}-{suffix}")
}

/// Names a run-like object after its content and stamps it; returns the new name, or `None`
/// when the object has neither `metadata.name` nor `metadata.generateName`.
///
/// The base is `metadata.name`, else `metadata.generateName` without its trailing `-` (the
/// upstream spelling of "a new run each time"; `generateName` is removed). The suffix is the
/// hash of the object carrying the base name, so it depends on content only; then the final
/// object (with its suffixed name) is stamped. Call it once per lowered object: a name that
/// already carries a suffix would get a second one.
pub fn name_by_content(manifest: &mut Manifest) -> Option<String> {
    let base = match manifest.name() {
        Some(name) => name.to_string(),
        None => manifest.generate_name()?.trim_end_matches('-').to_string(),
    };
    if let Some(meta) = manifest
        .as_object_mut()
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    {
        meta.shift_remove("generateName");
    }
    manifest.set_name(&base);
    let name = content_name(&base, &content_hash(manifest.value()));
    manifest.set_name(&name);
    stamp(manifest);
    Some(name)
}

/// The top level: like [`write_sorted`], but `metadata.annotations` loses the unhashed keys.
fn write_top(value: &Value, out: &mut Vec<u8>) {
    let Some(annotations) = value.pointer("/metadata/annotations").and_then(Value::as_object) else {
        return write_sorted(value, out);
    };
    if !annotations.keys().any(|k| UNHASHED.contains(&k.as_str())) {
        return write_sorted(value, out);
    }
    // Rare enough per object (once) that a shallow rebuild of the two outer levels is fine;
    // the spec, usually the bulk, is written in place.
    let mut meta = value["metadata"].as_object().expect("has annotations").clone();
    let kept: serde_json::Map<String, Value> = annotations
        .iter()
        .filter(|(k, _)| !UNHASHED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if kept.is_empty() {
        meta.shift_remove("annotations");
    } else {
        meta.insert("annotations".into(), Value::Object(kept));
    }
    let meta = Value::Object(meta);
    let top = value.as_object().expect("has metadata");
    write_object(
        top.iter()
            .map(|(k, v)| (k, if k == "metadata" { &meta } else { v }))
            .collect(),
        out,
    );
}

/// `{"k":v,...}` with the entries sorted by key.
fn write_object(mut entries: Vec<(&String, &Value)>, out: &mut Vec<u8>) {
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(k, out);
        out.push(b':');
        write_sorted(v, out);
    }
    out.push(b'}');
}

fn write_sorted(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => write_object(map.iter().collect(), out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_sorted(item, out);
            }
            out.push(b']');
        }
        scalar => serde_json::to_writer(&mut *out, scalar).expect("writing to a Vec cannot fail"),
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hash_form_is_sorted_compact_and_skips_unhashed_annotations() {
        let v = json!({"kind": "K", "apiVersion": "v1", "metadata": {"name": "x", "annotations": {
            "kiln.dev/content-hash": "old", "kiln.dev/source": "a.kiln:3"}}, "spec": {"b": [1, "é"], "a": null}});
        assert_eq!(
            String::from_utf8(hash_form(&v)).unwrap(),
            r#"{"apiVersion":"v1","kind":"K","metadata":{"name":"x"},"spec":{"a":null,"b":[1,"é"]}}"#
        );
    }

    #[test]
    fn content_name_fits_a_dns_label() {
        assert_eq!(content_name("train", "blake3:0123456789abcdef"), "train-01234567");
        let long = "a".repeat(53) + "-bcdef";
        // Cut to 54 characters, which leaves a dangling `-` that is dropped.
        assert_eq!(content_name(&long, "0123456789"), "a".repeat(53) + "-01234567");
        assert_eq!(content_name(&"x".repeat(80), "ff").len(), 57);
    }

    #[test]
    fn name_by_content_uses_generate_name() {
        let mut m = Manifest::new(json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"generateName": "hello-world-"}, "spec": {}}))
        .unwrap();
        let name = name_by_content(&mut m).unwrap();
        assert!(name.starts_with("hello-world-") && name.len() == "hello-world-".len() + 8);
        assert_eq!(m.generate_name(), None);
        assert_eq!(m.annotation(CONTENT_HASH).map(str::len), Some(64));
        assert!(
            name_by_content(&mut Manifest::new(json!({"apiVersion": "v1", "kind": "K"})).unwrap()).is_none()
        );
    }
}
