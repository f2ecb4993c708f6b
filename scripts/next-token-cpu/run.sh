#!/usr/bin/env bash
# Usage: scripts/next-token-cpu/run.sh CORE_JAR [ROUNDS] [BATCH]: compiles Harness.java against CORE_JAR, runs it.
set -euo pipefail
jar="$1"; shift
out="$(mktemp -d)"
javac -cp "$jar" -d "$out" "$(dirname "$0")/Harness.java"
java -Xmx2g -cp "$jar:$out" Harness "$@"
