#!/usr/bin/env bash
# Fails if a C/C++ source file is not formatted with clang-format (.clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
for f in $(git ls-files '*.cc' '*.h' '*.c'); do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run clang-format -i $f)"
    bad=1
  fi
done
exit $bad
