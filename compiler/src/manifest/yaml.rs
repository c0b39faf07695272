//! A block-style YAML emitter for JSON values, safe for YAML 1.1 readers.
//!
//! Why not `serde_norway::to_string`: it quotes exactly the strings a YAML 1.2 reader would
//! re-type, and leaves `on`, `yes`, `y`, `off`, `1_000`, `2024-01-01`, `12:30` plain. Kubernetes
//! tooling (`sigs.k8s.io/yaml`, go-yaml v2) reads YAML 1.1, where those are booleans, numbers and
//! timestamps: a label value `"on"` would arrive as `true` and be rejected. This emitter quotes
//! anything either version could read as a non-string, and owning the bytes also keeps golden
//! files independent of a YAML library's formatting choices.
//!
//! Style (close to `kubectl get -o yaml`): two-space indentation; sequences under a mapping key
//! are not indented; strings plain when safe, else single-quoted, multi-line strings as literal
//! blocks (`|`, `|-`, `|+` by their trailing newlines), anything with other control characters
//! double-quoted with JSON escapes (valid YAML). Mapping keys are written in the value's order:
//! ordering is [`super::canonical`]'s job.

use serde_json::{Map, Value};

/// One document, ending with a newline (no `---`).
pub fn document(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => sequence(items, 0, &mut out),
        scalar => {
            inline(scalar, 2, &mut out);
            out.push('\n');
        }
    }
    out
}

fn pad(indent: usize, out: &mut String) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A mapping whose first line starts at the current position (already indented).
fn mapping(map: &Map<String, Value>, indent: usize, out: &mut String) {
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            pad(indent, out);
        }
        string(key, indent, false, out);
        out.push(':');
        match value {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                pad(indent + 2, out);
                mapping(m, indent + 2, out);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                pad(indent, out);
                sequence(items, indent, out);
            }
            scalar => {
                out.push(' ');
                inline(scalar, indent + 2, out);
                out.push('\n');
            }
        }
    }
}

/// A sequence whose first `- ` starts at the current position (already indented).
fn sequence(items: &[Value], indent: usize, out: &mut String) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            pad(indent, out);
        }
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => mapping(m, indent + 2, out),
            Value::Array(inner) if !inner.is_empty() => sequence(inner, indent + 2, out),
            scalar => {
                inline(scalar, indent + 2, out);
                out.push('\n');
            }
        }
    }
}

/// A scalar or an empty container on the current line. `indent` is the indentation of a
/// literal block's content.
fn inline(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => string(s, indent, true, out),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn string(s: &str, indent: usize, allow_block: bool, out: &mut String) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if allow_block && is_block_safe(s) {
        literal_block(s, indent, out);
    } else if s.chars().all(|c| !c.is_control()) {
        out.push('\'');
        out.push_str(&s.replace('\'', "''"));
        out.push('\'');
    } else {
        out.push_str(&serde_json::to_string(s).expect("a string serializes"));
    }
}

/// `|`, `|-` or `|+` by trailing newlines; content lines indented, empty lines left empty.
fn literal_block(s: &str, indent: usize, out: &mut String) {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    out.push_str(match trailing {
        0 => "|-",
        1 => "|",
        _ => "|+",
    });
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            pad(indent, out);
            out.push_str(line);
        }
    }
    // The final newline of the line is added by the caller; `|+` keeps the extra ones.
    for _ in 1..trailing {
        out.push('\n');
    }
}

/// A multi-line string a literal block represents exactly: no control characters but `\n` and
/// `\t`, and a first non-empty line that does not start with a space (it would be taken as
/// indentation).
fn is_block_safe(s: &str) -> bool {
    s.contains('\n')
        && s.chars().all(|c| c == '\n' || c == '\t' || !c.is_control())
        && s.split('\n')
            .find(|l| !l.is_empty())
            .is_some_and(|l| !l.starts_with(' ') && !l.starts_with('\t'))
        && !s.contains('\u{feff}')
}

/// A string that every YAML 1.1 and 1.2 reader takes as this same string when written plain.
fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let last = s.chars().next_back().expect("non-empty");
    if first.is_whitespace() || last.is_whitespace() || last == ':' {
        return false;
    }
    if s.chars()
        .any(|c| c.is_control() || c == '\u{feff}' || c == '\u{85}' || c == '\u{2028}' || c == '\u{2029}')
    {
        return false;
    }
    if s.contains(": ") || s.contains(" #") {
        return false;
    }
    // Indicators that may not start a plain scalar. `-` may, when followed by a non-space
    // (`--lr`): numbers such as `-1` are caught below.
    match first {
        '?' | ':' | ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
        | '@' | '`' => {
            return false;
        }
        '-' if s.len() == 1 || s[1..].starts_with(' ') => return false,
        _ => {}
    }
    !is_special_word(s) && !is_numberish(s)
}

/// Booleans and nulls of YAML 1.1 and 1.2 (any case), and the 1.1 `=` and `<<` keys.
fn is_special_word(s: &str) -> bool {
    const WORDS: [&str; 14] = [
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", "=", "<<", ".inf", ".nan",
    ];
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    WORDS.contains(&lower.as_str()) || unsigned == ".inf"
}

/// Anything a YAML 1.1 or 1.2 reader might take as a number or a timestamp: optionally signed,
/// starting with a digit (or `.` and a digit), made only of digits and `_ . : e E + -`
/// (`1_000`, `1e3`, `12:30`, `2024-01-01`), or a `0x`/`0o`/`0b` literal. Over-approximating only
/// costs quotes.
fn is_numberish(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = t.to_ascii_lowercase();
    if ["0x", "0o", "0b"].iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    let mut chars = t.chars();
    let starts_numeric = match chars.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('.') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    starts_numeric && t.chars().all(|c| c.is_ascii_digit() || "_.:eE+-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layout() {
        let v = json!({"a": {"b": [1, {"c": "x", "d": []}, [true, null]], "e": {}}, "f": "two\nlines\n"});
        assert_eq!(
            document(&v),
            "a:\n  b:\n  - 1\n  - c: x\n    d: []\n  - - true\n    - null\n  e: {}\nf: |\n  two\n  lines\n"
        );
    }

    #[test]
    fn literal_blocks_round_trip() {
        for s in [
            "a\nb",
            "a\nb\n",
            "a\n\nb\n\n\n",
            "\nlead empty",
            "tab\tinside\n",
            "x: y\n# not a comment\n",
        ] {
            let yaml = document(&json!({"k": [s]}));
            let back: Value = serde_norway::from_str(&yaml).unwrap();
            assert_eq!(back, json!({"k": [s]}), "{yaml}");
        }
        assert_eq!(document(&json!(" indented\nsecond")), "\" indented\\nsecond\"\n");
    }

    #[test]
    fn plain_only_when_safe() {
        for s in [
            "16Gi",
            "500m",
            "--lr",
            "nvidia.com/gpu",
            "gs://b/x",
            "a:b",
            "é",
            "x#y",
            "v1.2.3-rc",
        ] {
            assert!(is_plain_safe(s), "{s}");
        }
        for s in [
            "on",
            "No",
            "Y",
            "1_000",
            "2024-01-01",
            "12:30",
            "-1",
            ".5",
            "+.INF",
            "0x1F",
            "-",
            "- a",
            "a: b",
        ] {
            assert!(!is_plain_safe(s), "{s}");
        }
    }
}
