// A POSIX pax (tar) writer for dump: ustar headers, with a pax extended header
// before every entry that needs one (long or non-ASCII names and link
// targets, nanosecond or negative times, large sizes and IDs, owner names,
// extended attributes as SCHILY.xattr.NAME records, POSIX ACLs also as
// SCHILY.acl.access / .default text).
//
// Written here rather than with libarchive (which writes the zip archives):
// libarchive 3.6 URL-encodes non-ASCII extended attribute names in
// SCHILY.xattr records (GNU tar and bsdtar then restore "user.nul%C3%A9"),
// and writes a time before 1970 with a fraction as "-S.F" meaning -S + F,
// where pax (and GNU tar) read -(S.F).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "model/node.h"

namespace efs2s3::restorer {

struct PaxEntry {
  std::string name;  // relative, '/'-separated; a directory's without a '/'
  char type = '0';   // ustar typeflag: '0' file, '1' hard link, '2' symlink,
                     // '3' char device, '4' block device, '5' dir, '6' fifo
  std::uint32_t mode = 0;  // permission bits, 07777
  std::uint32_t uid = 0, gid = 0;
  std::string user, group;
  model::Timespec mtime, atime;
  std::uint64_t size = 0;  // content bytes (files only)
  std::string link;        // symlink target or hard link's first name
  std::uint32_t dev_major = 0, dev_minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

class PaxWriter {
 public:
  // `out` receives the archive in blocks of up to 64 KiB.
  explicit PaxWriter(std::function<Result<void>(ByteSpan)> out)
      : out_(std::move(out)) {}

  // An entry's headers; then exactly entry.size bytes by Data, then Finish.
  Result<void> Header(const PaxEntry& entry);
  Result<void> Data(ByteSpan data);
  Result<void> Finish();
  // The two zero blocks that end an archive, padded to a 10 KiB record.
  Result<void> Close();

  // The decimal text pax gives a time: "-1.250000000" for sec -2, nsec
  // 750000000 (sign before the whole value).
  static std::string TimeText(const model::Timespec& t);
  // The POSIX.1e text of a Linux ACL extended attribute value
  // (system.posix_acl_access / _default: version 2, then {u16 tag, u16 perm,
  // u32 id} entries), "user::rw-,user:1000:r--,group::r--,mask::r--,
  // other::---", for the SCHILY.acl.access / .default records bsdtar restores
  // ACLs from (it skips system.posix_acl_* xattr records); nullopt when the
  // value is not such an ACL.
  static std::optional<std::string> AclText(std::string_view value);
  // One "LEN KEY=VALUE\n" record, LEN counting itself.
  static std::string Record(const std::string& key, const std::string& value);

 private:
  Result<void> Write(ByteSpan data);
  Result<void> Flush();

  std::function<Result<void>(ByteSpan)> out_;
  Bytes buffer_;
  std::uint64_t total_ = 0;      // bytes written, for padding
  std::uint64_t remaining_ = 0;  // content bytes still due for this entry
};

}  // namespace efs2s3::restorer
