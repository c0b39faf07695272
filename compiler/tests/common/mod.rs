//! Helpers shared by the upstream-fidelity tests.

use serde_json::{Map, Value};

/// `metadata.labels` or `metadata.annotations` without kiln's own `kiln.dev/` keys (content
/// hash, source, run-of): `None` when nothing else is left, so an object kiln stamped compares
/// equal to the upstream one that has no such map.
pub fn without_kiln_keys(map: &Value) -> Option<Map<String, Value>> {
    let kept: Map<String, Value> = map
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !k.starts_with("kiln.dev/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!kept.is_empty()).then_some(kept)
}
