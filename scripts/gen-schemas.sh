#!/usr/bin/env bash
# Regenerates stdlib/schemas/ from $KILN_SHARED (CRDs, Katib's OpenAPI) and the /openapi/v3 of the
# project's own kube-apiserver (started through scripts/control-plane.sh by kiln-testsupport).
# `scripts/gen-schemas.sh --check` fails when the committed modules are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run -q -p kiln-schemagen -- "$@"
