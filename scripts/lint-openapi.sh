#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# lint-openapi.sh [SPEC...]: lints the API specifications (api/openapi.yaml, the
# VMM's, and api/manager-openapi.yaml, casulo serve's).
#
# Two checks:
#  1. Redocly's OpenAPI linter (@redocly/cli, pinned below), installed on
#     first use with npm into build/openapi-lint/ (nothing global); it knows
#     the OpenAPI 3.0 schema and its rules, which a hand-written check would
#     only approximate. 2.x is one bundled package (15 MB) but needs Node.js
#     20.19 or later; Debian 12's Node.js 18 gets 1.25.0 (plain npm
#     dependencies, about 120 MB).
#  2. Our own cross-checks (python3 + PyYAML), which no generic linter can
#     do: the spec lists exactly the routes of src/api/http.c, every path is
#     exercised by a unit test (tests/unit/test_api*.c), every $ref
#     resolves, every operation has an operationId and every error reply
#     is the Error schema.
# A missing tool skips its check (exit 77 when nothing could run), except
# under CI=true, where it fails.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -gt 0 ]; then SPECS=("$@"); else SPECS=("$ROOT/api/openapi.yaml" "$ROOT/api/manager-openapi.yaml"); fi
# Node.js >= 20.19 (2.x's floor) runs the current line, older ones the last 1.x we tried.
if node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null; then
    REDOCLY_VERSION=2.77.0
else
    REDOCLY_VERSION=1.25.0
fi
LINT_DIR=${OPENAPI_LINT_DIR:-$ROOT/build/openapi-lint}/$REDOCLY_VERSION
status=0 ran=0

missing() {
    echo "lint-openapi: $*"
    if [ "${CI:-}" = true ]; then
        echo "lint-openapi: (CI=true: a missing prerequisite is a failure)"
        status=1
    fi
}

# --- 1. Redocly -------------------------------------------------------------
redocly=$LINT_DIR/node_modules/.bin/redocly
if [ ! -x "$redocly" ] && command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then
    echo "lint-openapi: installing @redocly/cli@$REDOCLY_VERSION into $LINT_DIR"
    mkdir -p "$LINT_DIR"
    npm install --silent --no-audit --no-fund --prefix "$LINT_DIR" "@redocly/cli@$REDOCLY_VERSION" >"$LINT_DIR/npm.log" 2>&1 ||
        { tail -n 20 "$LINT_DIR/npm.log"; echo "lint-openapi: npm install failed"; }
fi
if [ -x "$redocly" ]; then
    ran=1
    # No telemetry, no update check: CI must not depend on the network beyond the install.
    # Its boxed Node.js deprecation banner is noise here: drop lines drawn with box characters.
    REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
        "$redocly" lint --format=stylish --config "$ROOT/api/redocly.yaml" "${SPECS[@]}" 2>&1 |
        grep -v '[║╔╚]'
    if [ "${PIPESTATUS[0]}" = 0 ]; then
        echo "lint-openapi: redocly: ok"
    else
        echo "lint-openapi: redocly: FAILED"
        status=1
    fi
else
    missing "no @redocly/cli (needs node and npm: Debian packages nodejs npm); skipping its lint"
fi

# --- 2. Cross-checks with the code and the tests ------------------------------
if python3 -c 'import yaml' 2>/dev/null; then
    ran=1
    for SPEC in "${SPECS[@]}"; do
    python3 - "$SPEC" "$ROOT" <<'PY' || status=1
import glob, os, re, sys, yaml

spec_path, root = sys.argv[1], sys.argv[2]
with open(spec_path) as f:
    spec = yaml.safe_load(f)
errors = []

def err(msg):
    errors.append(msg)

if not str(spec.get("openapi", "")).startswith("3.0."):
    err("openapi: expected a 3.0.x version")
for key in ("title", "version"):
    if not spec.get("info", {}).get(key):
        err(f"info.{key} is missing")

# Every $ref points at something that exists.
def walk(node, where):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                if not isinstance(v, str) or not v.startswith("#/"):
                    err(f"{where}: only local $refs are used here, got {v!r}")
                    continue
                target = spec
                for part in v[2:].split("/"):
                    if not isinstance(target, dict) or part not in target:
                        err(f"{where}: $ref {v} does not resolve")
                        break
                    target = target[part]
            else:
                walk(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk(v, f"{where}[{i}]")
walk(spec, "#")

methods = {"get", "put", "post", "delete", "patch", "head", "options"}
spec_routes, op_ids = set(), set()
responses = spec.get("components", {}).get("responses", {})
for path, item in (spec.get("paths") or {}).items():
    for method, op in item.items():
        if method not in methods:
            continue
        spec_routes.add((method.upper(), path))
        oid = op.get("operationId")
        if not oid:
            err(f"{method.upper()} {path}: no operationId")
        elif oid in op_ids:
            err(f"{method.upper()} {path}: operationId {oid} used twice")
        op_ids.add(oid)
        if not op.get("responses"):
            err(f"{method.upper()} {path}: no responses")
        for code, resp in (op.get("responses") or {}).items():
            if not str(code).startswith(("4", "5")):
                continue
            if "$ref" in resp:
                resp = responses.get(resp["$ref"].split("/")[-1], {})
            schema = resp.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") != "#/components/schemas/Error":
                err(f"{method.upper()} {path} {code}: an error reply must be the Error schema")

# The VMM's spec only: it and the route table agree, and a unit test calls each route.
# (The manager's API, api/manager-openapi.yaml, routes by path segments and is
# exercised end to end by tests/manager/.)
if os.path.basename(spec_path) != "openapi.yaml":
    for e in errors:
        print(f"lint-openapi: {spec_path}: {e}")
    if errors:
        sys.exit(1)
    print(f"lint-openapi: {os.path.basename(spec_path)}: cross-checks: ok ({len(spec_routes)} operations)")
    sys.exit(0)
with open(f"{root}/src/api/http.c") as f:
    code = f.read()
table = re.search(r"api_routes\[\]\s*=\s*\{(.*?)\n\};", code, re.S)
if not table:
    err("src/api/http.c: cannot find the api_routes[] table")
code_routes = set(re.findall(r'\{\s*"([A-Z]+)",\s*"([^"]+)",', table.group(1) if table else ""))
for m, p in sorted(code_routes - spec_routes):
    err(f"{m} {p} is served (src/api/http.c) but not in the spec")
for m, p in sorted(spec_routes - code_routes):
    err(f"{m} {p} is in the spec but not served (src/api/http.c)")

# Every path is exercised by a unit test.
tests = "".join(open(t).read() for t in glob.glob(f"{root}/tests/unit/test_api*.c"))
for m, p in sorted(spec_routes):
    if not re.search(r'"%s"\s*,\s*"%s[?"]' % (m, re.escape(p)), tests):
        err(f"{m} {p}: no unit test calls it (tests/unit/test_api*.c)")

for e in errors:
    print(f"lint-openapi: {spec_path}: {e}")
if errors:
    sys.exit(1)
print(f"lint-openapi: cross-checks: ok ({len(spec_routes)} operations)")
PY
    done
else
    missing "no python3 with PyYAML (Debian package python3-yaml); skipping the cross-checks"
fi

[ $ran = 1 ] || [ $status != 0 ] || exit 77
exit $status
