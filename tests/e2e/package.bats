#!/usr/bin/env bats
# Completions and man pages generated from the command definitions, what
# `cmake --install` installs, and the Debian package CPack makes of it:
# completion scripts load in bash, zsh and fish and complete commands and
# options; `man -l` renders every page without warnings; the .deb installs,
# runs `efs2s3 version` and uninstalls cleanly (dpkg -i / dpkg -r, as root).

load common

setup() {
  common_setup
  BUILD="$(cd "$(dirname "$EFS2S3")/../.." && pwd)"
  INSTALLED=""
}

teardown() {
  if [[ -n "$INSTALLED" ]]; then dpkg -r efs2s3 >/dev/null 2>&1 || true; fi
  common_teardown
}

# require_build_dir: the binary comes from a CMake build directory (for
# install and cpack); skips otherwise.
require_build_dir() {
  [[ -f "$BUILD/CPackConfig.cmake" && -f "$BUILD/cmake_install.cmake" ]] ||
    skip "$EFS2S3 is not in a CMake build directory"
  # The generated completions and man pages (a target of the default build).
  cmake --build "$BUILD" --target efs2s3_docs >/dev/null
}

@test "completion scripts: bash and zsh load them and complete commands and options; fish parses its own" {
  "$EFS2S3" generate completion bash -o "$T/efs2s3.bash"
  "$EFS2S3" generate completion zsh -o "$T/_efs2s3"
  "$EFS2S3" generate completion fish -o "$T/efs2s3.fish"
  run bash -c "set -eu; source '$T/efs2s3.bash'; complete -p efs2s3
    COMP_WORDS=(efs2s3 du); COMP_CWORD=1; _efs2s3; echo \"1:\${COMPREPLY[*]}\"
    COMP_WORDS=(efs2s3 backup --excl); COMP_CWORD=2; _efs2s3; echo \"2:\${COMPREPLY[*]}\"
    COMP_WORDS=(efs2s3 -r /x job r); COMP_CWORD=4; _efs2s3; echo \"3:\${COMPREPLY[*]}\"
    COMP_WORDS=(efs2s3 backup --rep); COMP_CWORD=2; _efs2s3; echo \"4:\${COMPREPLY[*]}\""
  assert_status 0
  [[ "$output" == *"complete -o default -F _efs2s3 efs2s3"* ]]
  [[ "$output" == *"1:dump"* ]]
  [[ "$output" == *"2:--exclude --exclude-file"* ]]
  [[ "$output" == *"3:run"* ]]
  # Global options complete after a command too.
  [[ "$output" == *"4:--repo"* ]]
  # zsh: parses, and loads under compinit without a word on stderr.
  zsh -n "$T/_efs2s3"
  run --separate-stderr zsh -f -c "autoload -U compinit; compinit -u -d '$T/zcompdump'; source '$T/_efs2s3'; print -r -- \${_efs2s3_subs[efs2s3 job]}"
  assert_status 0
  [[ -z "$stderr" ]] || { echo "$stderr" >&2; false; }
  [[ "$output" == *run* && "$output" == *status* ]]
  if command -v fish >/dev/null; then
    fish -n "$T/efs2s3.fish"
    run fish -c "source '$T/efs2s3.fish'; complete -C 'efs2s3 dum'"
    assert_status 0
    [[ "$output" == dump* ]]
  fi
  # Every command of --help-all is in the bash table.
  local c
  while IFS= read -r c; do
    grep -q -- "$c" "$T/efs2s3.bash" || { echo "missing: $c" >&2; false; }
  done < <("$EFS2S3" --help-all | awk '/^Subcommands:/ { s = 1; next } s && /^[a-z]/ { print $1 }')
}

@test "man pages: one per command, each rendered by man -l without warnings" {
  "$EFS2S3" generate man "$T/man"
  local pages
  pages=$(ls "$T/man" | wc -l)
  (( pages > 30 ))
  [[ -f "$T/man/efs2s3.1" && -f "$T/man/efs2s3-dump.1" && -f "$T/man/efs2s3-job-run.1" ]]
  local f
  for f in "$T/man"/*.1; do
    run --separate-stderr env MANWIDTH=80 man --warnings -l "$f"
    assert_status 0
    [[ -z "$stderr" ]] || { echo "$f: $stderr" >&2; false; }
    [[ "$output" == *NAME* && "$output" == *SYNOPSIS* ]]
  done
  run env MANWIDTH=120 man -l "$T/man/efs2s3-backup.1"
  [[ "$output" == *"--exclude"* && "$output" == *"--one-file-system"* ]]
}

@test "cmake --install: the binary, completions for three shells and the man pages" {
  require_build_dir
  cmake --install "$BUILD" --prefix "$T/inst" >/dev/null
  "$T/inst/bin/efs2s3" version
  [[ -f "$T/inst/share/bash-completion/completions/efs2s3" ]]
  [[ -f "$T/inst/share/zsh/vendor-completions/_efs2s3" ]]
  [[ -f "$T/inst/share/fish/vendor_completions.d/efs2s3.fish" ]]
  [[ -f "$T/inst/share/man/man1/efs2s3.1" && -f "$T/inst/share/man/man1/efs2s3-stats.1" ]]
}

@test "the Debian package: efs2s3_<version>_<arch>.deb, runtime libraries only; installs, runs and uninstalls cleanly" {
  require_build_dir
  is_root || skip "dpkg -i needs root"
  command -v dpkg-shlibdeps >/dev/null || skip "dpkg-dev not installed"
  dpkg -s efs2s3 >/dev/null 2>&1 && skip "an efs2s3 package is installed already"
  (cd "$T" && cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$T/pkg" >/dev/null)
  local deb version
  version=$("$EFS2S3" --json version | jq -r .version)
  deb="$T/pkg/efs2s3_${version}_$(dpkg --print-architecture).deb"
  [[ -f "$deb" ]] || { ls "$T/pkg" >&2; false; }
  run dpkg-deb -f "$deb" Depends
  assert_status 0
  [[ "$output" == *libc6* && "$output" == *libcurl* ]]
  [[ "$output" != *-dev* ]] || { echo "a -dev dependency: $output" >&2; false; }
  INSTALLED=1
  dpkg -i "$deb" >/dev/null
  run /usr/bin/efs2s3 version
  assert_status 0
  assert_output_has "$version"
  man -l /usr/share/man/man1/efs2s3-dump.1 >/dev/null
  bash -c "source /usr/share/bash-completion/completions/efs2s3; complete -p efs2s3"
  dpkg -r efs2s3 >/dev/null
  INSTALLED=""
  [[ ! -e /usr/bin/efs2s3 && ! -e /usr/share/man/man1/efs2s3.1 ]]
  [[ ! -e /usr/share/bash-completion/completions/efs2s3 ]]
  run dpkg -s efs2s3
  [[ "$output" != *"Status: install ok installed"* ]]
}
