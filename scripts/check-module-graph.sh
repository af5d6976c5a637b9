#!/usr/bin/env bash
# Checks the module graph: every target of Sources/ imports only the project modules its row below allows
# (the row's modules and, transitively, what they may import), both in its Swift sources and in
# Package.swift's dependency list. The README's "Modules" section shows the same table.
# Usage: bash scripts/check-module-graph.sh   (exit 0: the graph holds; 1: violations, listed)
set -euo pipefail
cd "$(dirname "$0")/.."

# module: modules it may import directly (the rest follows transitively)
read -r -d '' RULES <<'TABLE' || true
CTorch:
CJPEG:
CJPEGShim: CJPEG
MiroFormats:
MiroEngine: CTorch
MiroNN: MiroEngine
MiroOptim: MiroEngine MiroNN
MiroIO: MiroEngine MiroNN MiroFormats
MiroImage: MiroFormats CJPEG CJPEGShim
MiroTokenizers: MiroFormats
MiroT5: MiroIO
MiroVAE: MiroIO
MiroModels: MiroNN
MiroRewards: MiroImage MiroFormats
MiroData: MiroFormats MiroEngine MiroRewards
MiroShapes: MiroRewards MiroImage MiroData
MiroRewardModels: MiroIO MiroImage MiroTokenizers MiroRewards
MiroDataPrep: MiroIO MiroImage MiroRewards MiroData MiroTokenizers MiroT5 MiroVAE
MiroPipeline: MiroModels MiroIO MiroImage MiroShapes MiroTokenizers MiroT5 MiroVAE
MiroTraining: MiroModels MiroOptim MiroData MiroIO MiroPipeline
MiroEval: MiroTraining MiroPipeline MiroShapes MiroRewardModels
miro: *
TABLE

declare -A direct
modules=()
while IFS=: read -r name deps; do
  [ -z "$name" ] && continue
  modules+=("$name")
  direct[$name]="$deps"
done <<< "$RULES"

# The transitive closure of a module's row.
closure() {
  local seen=" " queue=(${direct[$1]}) m
  while ((${#queue[@]})); do
    m=${queue[0]}; queue=("${queue[@]:1}")
    [[ "$seen" == *" $m "* ]] && continue
    seen+="$m "
    queue+=(${direct[$m]:-})
  done
  echo "$seen"
}

is_module() { [[ " ${modules[*]} " == *" $1 "* ]]; }

# Source directory of each target, from Package.swift's `path:` entries (default Sources/<name>).
target_dir() {
  local dir
  dir=$(awk -v n="\"$1\"" '$0 ~ "name: " n {found=1} found && /path: "/ {match($0, /path: "[^"]*"/); print substr($0, RSTART+7, RLENGTH-8); exit}' Package.swift)
  echo "${dir:-Sources/$1}"
}

# Project modules named in Package.swift's dependency list of target $1 (the `graph` table there).
package_deps() {
  awk -v n="\"$1\"" '$0 ~ "^ *" n ": *\\[" {sub(/^[^[]*\[/, ""); sub(/\].*$/, ""); gsub(/[",]/, " "); print; exit}' Package.swift
}

failures=0
report() { echo "module graph: $*" >&2; failures=$((failures + 1)); }

for m in "${modules[@]}"; do
  allowed=$(closure "$m")
  [ "${direct[$m]}" = " *" ] && allowed="*"
  dir=$(target_dir "$m")
  [ -d "$dir" ] || { report "$m: no source directory $dir"; continue; }
  # import X, @testable import X, import struct X.Y, @_exported import X
  while IFS=: read -r file line text; do
    imported=$(sed -E 's/^[[:space:]]*(@[A-Za-z_]+[[:space:]]+)*import[[:space:]]+((struct|class|enum|protocol|func|var|let|typealias)[[:space:]]+)?([A-Za-z0-9_]+).*/\4/' <<< "$text")
    is_module "$imported" || continue
    [ "$imported" = "$m" ] && continue
    if [ "$allowed" != "*" ] && [[ "$allowed" != *" $imported "* ]]; then
      report "$file:$line: $m imports $imported, outside its row ($m: ${direct[$m]:- nothing})"
    fi
  done < <(grep -rnE '^[[:space:]]*(@[A-Za-z_]+[[:space:]]+)*import[[:space:]]' "$dir" --include='*.swift' || true)
  if [ "$allowed" != "*" ]; then
    for d in $(package_deps "$m"); do
      is_module "$d" || continue
      [[ "$allowed" == *" $d "* ]] || report "Package.swift: $m depends on $d, outside its row ($m: ${direct[$m]:- nothing})"
    done
  fi
done

# Every source target must have a row.
for dir in Sources/*/; do
  name=$(basename "$dir")
  [ "$name" = MiroCLI ] && continue
  is_module "$name" || report "Sources/$name has no row in scripts/check-module-graph.sh"
done

if ((failures)); then
  echo "module graph: $failures violation(s)" >&2
  exit 1
fi
echo "module graph: ${#modules[@]} modules, every import within its row"
