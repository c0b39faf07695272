//! kiln reconciler: diffs desired manifests against a cluster and applies content-hashed changes.
//!
//! Empty until the reconciler issue; the crate exists so the dependency direction
//! (lang -> compiler -> reconciler -> cli) is fixed from the start.
