#!/usr/bin/env bats
# dump: a file of a snapshot as its bytes, a directory as a pax tar or a zip,
# read back by GNU tar and bsdtar (libarchive-tools) and compared with the
# source tree; on a local and on an S3 repository (radosgw).

load common
load either_repo

teardown() { either_repo_teardown; }

# small_tree DIR: what both extractors restore in full: long names and paths,
# names that are not UTF-8, a non-ASCII extended attribute name with NULs in
# its value, access and default ACLs, hard links, symlinks (one pointing
# outside), a fifo, setuid and sticky modes, nanosecond times and a time
# before 1970 (whole seconds: GNU tar and bsdtar 3.6 read fractions of
# negative pax times differently), an empty file and directory.
small_tree() {
  local s="$1" long
  long="$(printf 'long-name-%.0s' {1..12})"
  mkdir -p "$s/d/empty" "$s/d/$long/$long" "$s/sticky"
  printf 'hello\n' >"$s/d/file"
  : >"$s/d/empty-file"
  random_file "$s/d/$long/$long/deep" 300000
  printf 'odd\n' >"$s/d/name-$(printf '\xff\xfe')-binary"
  printf 'caf\xc3\xa9\n' >"$s/d/caf$(printf '\xc3\xa9')"
  setfattr -n "user.nul$(printf '\xc3\xa9')" -v 0x00000000 "$s/d/file"
  setfattr -n user.plain -v value "$s/d"
  # ACLs: access and default (SCHILY.acl records for bsdtar, SCHILY.xattr
  # ones for GNU tar).
  setfacl -m u:1234:r-x,g:2345:rw- "$s/d/empty-file"
  setfacl -d -m u:1234:rwx "$s/d/empty"
  ln "$s/d/file" "$s/d/hard"
  ln "$s/d/file" "$s/d/$long/hard2"
  ln -s ../d/file "$s/sym"
  ln -s ../../../outside "$s/d/escaping"
  mkfifo "$s/d/fifo"
  chmod 4755 "$s/d/empty-file"
  chmod 1777 "$s/sticky"
  chmod 0600 "$s/d/name-"*
  local p
  while IFS= read -r -d '' p; do
    touch -h -d "@$(( 1500000000 + ${#p} )).$(printf '%09d' ${#p})" "$p"
  done < <(find "$s" -depth -print0)
  touch -d @-86400 "$s/d/caf"*
  touch -h -d @1600000000.123456789 "$s/sym"
}

# extract_gnu ARCHIVE DIR / extract_bsd ARCHIVE DIR: full metadata, every
# extended attribute.
extract_gnu() {
  mkdir -p "$2"
  tar --xattrs --xattrs-include='*' --numeric-owner -xpf "$1" -C "$2"
}
extract_bsd() {
  mkdir -p "$2"
  bsdtar --xattrs --numeric-owner -xpf "$1" -C "$2"
}

# round_trip: the small tree through dump, GNU tar and bsdtar, the file by
# itself, and a zip; on the repository of use_local/use_s3.
round_trip() {
  small_tree "$T/src"
  run r backup "$T/src"
  assert_status 0
  run --separate-stderr r dump latest "$T/src"
  assert_status 0
  r dump latest "$T/src" >"$T/a.tar"
  extract_gnu "$T/a.tar" "$T/gnu" 2>"$T/gnu.err" || { cat "$T/gnu.err"; false; }
  comparetree "$T/src" "$T/gnu/src" --no-atime --no-sparse
  extract_bsd "$T/a.tar" "$T/bsd"
  comparetree "$T/src" "$T/bsd/src" --no-atime --no-sparse
  # tar -t lists the hard links as links to the first name.
  run tar -tvf "$T/a.tar"
  assert_status 0
  [[ "$output" == *"src/d/hard link to src/d/"* || "$output" == *"link to src/d/"* ]]
  # A file: its bytes.
  r dump latest "$T/src/d/$(printf 'long-name-%.0s' {1..12})/$(printf 'long-name-%.0s' {1..12})/deep" >"$T/deep"
  cmp "$T/deep" "$T/src/d/$(printf 'long-name-%.0s' {1..12})/$(printf 'long-name-%.0s' {1..12})/deep"
  # A zip: content, modes and symlinks (zip has no owners, xattrs, fifos).
  run --separate-stderr r dump latest "$T/src/d" --archive zip
  assert_status 0
  assert_output_has "fifo: no zip form"
  r dump latest "$T/src/d" --archive zip 2>/dev/null >"$T/a.zip"
  mkdir "$T/zip"
  bsdtar -xpf "$T/a.zip" -C "$T/zip"
  diff -r --no-dereference --exclude=fifo "$T/src/d" "$T/zip/d"
  [[ "$(stat -c %a "$T/zip/d/empty-file")" == 4755 ]]
  [[ "$(readlink "$T/zip/d/escaping")" == ../../../outside ]]
}

@test "dump: a directory as pax tar round-trips through GNU tar and bsdtar, a file as its bytes, a zip (local)" {
  use_local
  round_trip
}

@test "dump: the same on an S3 repository" {
  use_s3
  round_trip
}

@test "dump: a generated tree (ACLs, devices, sparse files, times before 1970) round-trips through GNU tar" {
  use_local
  gentree "$T/src" --small --seed 5 >/dev/null
  run r backup "$T/src"
  assert_status 0
  run --separate-stderr r dump latest "$T/src"
  assert_status 0
  # Sockets have no tar form: each is named on stderr and left out.
  assert_output_has "socket: no tar form; left out"
  r dump latest "$T/src" 2>/dev/null >"$T/a.tar"
  extract_gnu "$T/a.tar" "$T/gnu" 2>/dev/null
  run comparetree "$T/src" "$T/gnu/src" --no-atime --no-sparse
  # The one difference: the socket.
  [[ "$(grep -v '^different:' <<<"$output")" == "special/socket: only in A (socket)" ]] ||
    { echo "$output" >&2; false; }
}

@test "dump: the root of a snapshot has its entries at the top; every name is relative, without '..'" {
  use_local
  small_tree "$T/src"
  run r backup "$T/src"
  assert_status 0
  r dump latest / >"$T/root.tar"
  run tar -tf "$T/root.tar"
  assert_status 0
  # Every name is relative and free of '..' components.
  local names="$output"
  run grep -E '^/|(^|/)\.\.(/|$)' <<<"$names"
  assert_status 1
  output="$names"
  grep -qx "${T#/}/src/d/file" <<<"$output"
}

@test "dump: what is wrong is named, with the documented exit codes" {
  use_local
  mkdir "$T/src"
  echo x >"$T/src/f"
  run r backup "$T/src"
  assert_status 0
  run --separate-stderr r dump latest "$T/src/missing"
  assert_status "$EXIT_FATAL"
  assert_output_has "$T/src/missing: not in the snapshot"
  run --separate-stderr r dump latest "$T/src" --archive rar
  assert_status "$EXIT_USAGE"
  assert_output_has "--archive"
  run --separate-stderr r --json dump latest "$T/src/f"
  assert_status "$EXIT_USAGE"
  assert_output_has "--json does not apply"
  run --separate-stderr r dump 0000 "$T/src"
  assert_status "$EXIT_FATAL"
  # Not onto a terminal.
  if command -v script >/dev/null; then
    run script -qec "'$EFS2S3' -r '$REPO' dump latest '$T/src/f'" /dev/null
    assert_status "$EXIT_USAGE"
    assert_output_has "standard output is a terminal"
  fi
  # --archive on a file: the file in an archive.
  r dump latest "$T/src/f" --archive tar >"$T/f.tar"
  [[ "$(tar -tf "$T/f.tar")" == f ]]
}
