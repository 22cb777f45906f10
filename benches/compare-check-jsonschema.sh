#!/usr/bin/env bash
# Times `recert validate` against check-jsonschema (the Python JSON Schema CLI) on the same
# generated manifests, and prints both figures and the speed-up.
#
#   bash benches/compare-check-jsonschema.sh
#
# Environment: FILES (default 10000), RUNS measured runs per tool after one warm-up (default 3),
# SEED (default 1), PEERS_DIR where the check-jsonschema venv lives (default .peers/, which Git
# ignores), CARGO_TARGET_DIR as usual.
#
# check-jsonschema reads only single-document YAML (a file with `---` fails to parse), so the
# files are generated with --single-doc and both tools read exactly the same 10,000 documents.
# Everything runs locally; the only network use is `pip install` from PyPI, once.
set -euo pipefail

CJS_VERSION=0.39.0
FILES=${FILES:-10000}
RUNS=${RUNS:-3}
SEED=${SEED:-1}

cd "$(dirname "$0")/.."
ROOT=$PWD
PEERS_DIR=${PEERS_DIR:-$ROOT/.peers}
VENV=$PEERS_DIR/check-jsonschema-$CJS_VERSION
SCHEMA=$ROOT/schemas/recert.schema.json
TIME=/usr/bin/time

if [[ ! -x $TIME ]]; then
    echo "error: $TIME (GNU time) is needed; on Debian: apt-get install -y time" >&2
    exit 2
fi

# check-jsonschema, pinned, in its own venv.
if [[ ! -x $VENV/bin/check-jsonschema ]]; then
    echo "== installing check-jsonschema $CJS_VERSION into $VENV"
    mkdir -p "$PEERS_DIR"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "check-jsonschema==$CJS_VERSION"
fi
CJS=$VENV/bin/check-jsonschema
echo "== $("$CJS" --version)"

# recert and the bench binary (its --generate-only mode writes the files), both in release.
echo "== building recert and the generator (release)"
executables=$(cargo build --release --locked --bin recert --bench validate \
    --message-format=json-render-diagnostics |
    python3 -c '
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
        print(msg["target"]["name"], msg["executable"])
')
RECERT=$(awk '$1 == "recert" { print $2 }' <<<"$executables")
GENERATOR=$(awk '$1 == "validate" { print $2 }' <<<"$executables")
if [[ -z $RECERT || -z $GENERATOR ]]; then
    echo "error: cargo built no recert or validate executable" >&2
    exit 2
fi
echo "== $("$RECERT" --version)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/recert-compare.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
MANIFESTS=$WORK/manifests
"$GENERATOR" --generate-only "$MANIFESTS" --files "$FILES" --seed "$SEED" --single-doc

cd "$MANIFESTS"
mapfile -t files < <(find . -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
echo "== ${#files[@]} files, one document each, in $MANIFESTS"

# Runs "$@" once under GNU time; prints "SECONDS KB". Fails if the tool found anything.
measure() {
    local out=$WORK/time.txt status=0
    "$TIME" -f '%e %M' -o "$out" "$@" >"$WORK/stdout.txt" 2>"$WORK/stderr.txt" || status=$?
    if ((status != 0)); then
        echo "error: $1 exited with $status on files that should all be valid:" >&2
        head -c 4000 "$WORK/stdout.txt" "$WORK/stderr.txt" >&2
        exit 1
    fi
    tail -n 1 "$out"
}

# One warm-up run, then RUNS measured: prints "MEDIAN_SECONDS MAX_KB".
bench() {
    local name=$1 i
    shift
    measure "$@" >/dev/null
    local results=()
    for ((i = 1; i <= RUNS; i++)); do
        results+=("$(measure "$@")")
        echo "   $name run $i: ${results[-1]%% *} s, ${results[-1]##* } KB" >&2
    done
    printf '%s\n' "${results[@]}" | sort -n -k1,1 | awk '
        { t[NR] = $1; if ($2 > kb) kb = $2 }
        END { m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2; print m, kb }'
}

echo "== recert validate --format json . (1 warm-up + $RUNS runs)"
read -r recert_s recert_kb < <(bench recert "$RECERT" validate --format json .)
echo "== check-jsonschema --schemafile recert.schema.json <${#files[@]} files> (1 warm-up + $RUNS runs)"
read -r cjs_s cjs_kb < <(bench check-jsonschema "$CJS" --schemafile "$SCHEMA" "${files[@]}")

awk -v n="${#files[@]}" -v rs="$recert_s" -v rk="$recert_kb" -v cs="$cjs_s" -v ck="$cjs_kb" '
function rate(s) { return s > 0 ? sprintf("%.0f", n / s) : "inf" }
BEGIN {
    printf "\n%-24s %12s %12s %14s\n", "tool (median of runs)", "wall", "files/s", "peak RSS"
    printf "%-24s %10.2f s %12s %11.1f MiB\n", "recert validate", rs, rate(rs), rk / 1024
    printf "%-24s %10.2f s %12s %11.1f MiB\n", "check-jsonschema", cs, rate(cs), ck / 1024
    if (rs > 0) printf "\nrecert is %.1fx faster than check-jsonschema on %d files\n", cs / rs, n
}'
