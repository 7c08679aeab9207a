// Object keys for file names, and the user metadata that carries file
// attributes (docs/SYNC.md, "Keys" and "Metadata").
//
// Keys are the relative paths. Valid UTF-8 is kept as it is, except:
//   - a byte that is not part of valid UTF-8 becomes U+201B (‛) followed by
//     two upper-case hex digits ("\xff" -> "‛FF"), as rclone encodes them;
//   - control characters below 0x20 other than tab and newline (XML 1.0
//     cannot carry them, and XML turns CR into LF) are escaped the same way;
//   - a literal ‛ becomes "‛‛".
// UnescapeKey reverses EscapeName exactly. A ‛ in a foreign key that is not
// followed by ‛ or two hex digits is kept as it is.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace efs2s3::sync {

std::string EscapeName(std::string_view raw);
std::string UnescapeKey(std::string_view key);

// Whether `rel` is a safe relative path to create below a directory: not
// empty, no leading '/', no empty, "." or ".." components, no NUL.
bool IsSafeRelativePath(std::string_view rel);

// A time with nanoseconds; nsec is in [0, 1e9).
struct Time {
  std::int64_t sec = 0;
  std::uint32_t nsec = 0;
  friend bool operator==(const Time&, const Time&) = default;
};

// rclone's mtime format: seconds since 1970 as a signed decimal with nine
// fractional digits ("1700000000.000000005", "-1.500000000").
std::string FormatRcloneTime(Time t);
std::optional<Time> ParseRcloneTime(std::string_view s);
// RFC 3339 in UTC with nanoseconds ("2006-01-02T15:04:05.123456789Z"), as
// rclone's metadata writes atime.
std::string FormatRfc3339(Time t);
std::optional<Time> ParseRfc3339(std::string_view s);
// An HTTP date ("Tue, 02 Jan 2024 03:04:05 GMT").
std::optional<Time> ParseHttpDate(std::string_view s);

// What a synced object says about its file.
enum class Kind { kFile, kSymlink, kDir };

struct Attributes {
  Kind kind = Kind::kFile;
  Time mtime;
  std::optional<Time> atime;
  std::optional<std::uint32_t> mode;  // permission bits (07777)
  std::optional<std::uint32_t> uid, gid;
  std::string md5;  // hex MD5 of the content when known ("" otherwise)
};

// User metadata names (lower case) and values for attributes:
// mtime (rclone format), atime (RFC 3339), mode (octal with the file type
// bits, "100644"), uid, gid (decimal), md5chksum (base64 MD5, rclone's key;
// only when `with_md5`).
std::vector<std::pair<std::string, std::string>> ToMetadata(const Attributes& a,
                                                            bool with_md5);
// Attributes from user metadata; nullopt when there is no parseable mtime
// (an object not written by efs2s3 or rclone).
std::optional<Attributes> FromMetadata(
    const std::map<std::string, std::string>& meta);

// Whether `s` is valid UTF-8 (used by tests and messages).
bool IsValidUtf8(std::string_view s);

}  // namespace efs2s3::sync
