#!/usr/bin/env bats
# The test tools themselves: the generator is deterministic and the comparator detects
# every kind of difference (tests/tools/test_tools.py). Needs no efs2s3 binary.

load common

setup() { :; }

@test "tree generator and comparator pass their own tests" {
  run "$PYTHON" "$TOOLS/test_tools.py"
  if (( status != 0 )); then
    printf '%s\n' "$output" >&2
    false
  fi
}
