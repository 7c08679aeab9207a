// The pax writer of dump (pax.h).
#include "restorer/pax.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace efs2s3::restorer {

namespace {

constexpr size_t kBlock = 512;
constexpr size_t kRecord = 20 * kBlock;  // tar's default blocking factor
constexpr size_t kFlushAt = 64 * 1024;

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return static_cast<unsigned char>(ch) >= 0x20 &&
           static_cast<unsigned char>(ch) < 0x7f;
  });
}

// Whether a string fits a ustar field of `width` bytes as it is.
bool Fits(std::string_view s, size_t width) {
  return s.size() <= width && IsAscii(s);
}

// Whether `v` fits a ustar octal field of `width` bytes (width - 1 digits).
bool FitsOctal(std::uint64_t v, size_t width) {
  return width - 1 >= 22 || v < (std::uint64_t{1} << (3 * (width - 1)));
}

void PutString(std::uint8_t* field, size_t width, std::string_view s) {
  std::memcpy(field, s.data(), std::min(width, s.size()));
}

void PutOctal(std::uint8_t* field, size_t width, std::uint64_t v) {
  if (!FitsOctal(v, width)) v = 0;  // the pax record holds the value
  std::string digits = fmt::format("{:0{}o}", v, width - 1);
  std::memcpy(field, digits.data(), width - 1);
}

}  // namespace

std::string PaxWriter::TimeText(const model::Timespec& t) {
  if (t.sec >= 0) return fmt::format("{}.{:09}", t.sec, t.nsec);
  if (t.nsec == 0) return fmt::format("{}", t.sec);
  // sec + nsec/1e9 < 0: its magnitude is (-sec - 1) + (1e9 - nsec)/1e9.
  return fmt::format("-{}.{:09}", -(t.sec + 1), 1000000000u - t.nsec);
}

std::optional<std::string> PaxWriter::AclText(std::string_view v) {
  auto u32 = [&](size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(v[at])) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(v[at + 1]))
               << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(v[at + 2]))
               << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(v[at + 3]))
               << 24;
  };
  if (v.size() < 4 || (v.size() - 4) % 8 != 0 || u32(0) != 2)
    return std::nullopt;
  std::string out;
  for (size_t at = 4; at < v.size(); at += 8) {
    std::uint32_t tag_perm = u32(at), id = u32(at + 4);
    std::uint32_t tag = tag_perm & 0xffff, perm = tag_perm >> 16;
    std::string qualifier;
    const char* kind;
    switch (tag) {
      case 0x01:
        kind = "user";
        break;
      case 0x02:
        kind = "user";
        qualifier = std::to_string(id);
        break;
      case 0x04:
        kind = "group";
        break;
      case 0x08:
        kind = "group";
        qualifier = std::to_string(id);
        break;
      case 0x10:
        kind = "mask";
        break;
      case 0x20:
        kind = "other";
        break;
      default:
        return std::nullopt;
    }
    out += fmt::format("{}{}:{}:{}{}{}", out.empty() ? "" : ",", kind,
                       qualifier, perm & 4 ? 'r' : '-', perm & 2 ? 'w' : '-',
                       perm & 1 ? 'x' : '-');
  }
  return out;
}

std::string PaxWriter::Record(const std::string& key,
                              const std::string& value) {
  size_t body = 1 + key.size() + 1 + value.size() + 1;  // " k=v\n"
  size_t len = body + 1;
  while (std::to_string(len).size() + body != len)
    len = std::to_string(len).size() + body;
  return std::to_string(len) + " " + key + "=" + value + "\n";
}

Result<void> PaxWriter::Header(const PaxEntry& e) {
  std::string name = e.type == '5' ? e.name + "/" : e.name;
  std::string records;
  bool binary = !IsAscii(name) || !IsAscii(e.link) || !IsAscii(e.user) ||
                !IsAscii(e.group);
  // Names that are not ASCII go as they are (raw bytes, as stored): say so, as
  // libarchive does; GNU tar warns about the keyword and uses the bytes.
  if (binary) records += Record("hdrcharset", "BINARY");
  if (!Fits(name, 100)) records += Record("path", name);
  if (!Fits(e.link, 100)) records += Record("linkpath", e.link);
  if (!FitsOctal(e.uid, 8)) records += Record("uid", std::to_string(e.uid));
  if (!FitsOctal(e.gid, 8)) records += Record("gid", std::to_string(e.gid));
  if (!Fits(e.user, 32)) records += Record("uname", e.user);
  if (!Fits(e.group, 32)) records += Record("gname", e.group);
  if (!FitsOctal(e.size, 12)) records += Record("size", std::to_string(e.size));
  if (e.mtime.nsec != 0 || e.mtime.sec < 0 ||
      !FitsOctal(static_cast<std::uint64_t>(e.mtime.sec), 12))
    records += Record("mtime", TimeText(e.mtime));
  if (e.atime != model::Timespec{})
    records += Record("atime", TimeText(e.atime));
  for (const auto& [k, v] : e.xattrs) {
    records += Record("SCHILY.xattr." + k, v);
    std::optional<std::string> acl;
    if (k == "system.posix_acl_access" || k == "system.posix_acl_default")
      acl = AclText(v);
    if (acl)
      records += Record(k == "system.posix_acl_access" ? "SCHILY.acl.access"
                                                       : "SCHILY.acl.default",
                        *acl);
  }

  auto header = [&](const std::string& hname, char type, std::uint64_t size,
                    const std::string& link) {
    std::uint8_t h[kBlock] = {};
    PutString(h + 0, 100, hname);
    PutOctal(h + 100, 8, e.mode & 07777);
    PutOctal(h + 108, 8, e.uid);
    PutOctal(h + 116, 8, e.gid);
    PutOctal(h + 124, 12, size);
    PutOctal(h + 136, 12,
             e.mtime.sec < 0 ? 0 : static_cast<std::uint64_t>(e.mtime.sec));
    h[156] = static_cast<std::uint8_t>(type);
    PutString(h + 157, 100, link);
    std::memcpy(h + 257,
                "ustar\0"
                "00",
                8);
    if (Fits(e.user, 32)) PutString(h + 265, 32, e.user);
    if (Fits(e.group, 32)) PutString(h + 297, 32, e.group);
    PutOctal(h + 329, 8, e.dev_major);
    PutOctal(h + 337, 8, e.dev_minor);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (std::uint8_t b : h) sum += b;
    std::string chk = fmt::format("{:06o}", sum);
    std::memcpy(h + 148, chk.data(), 6);
    h[154] = 0;
    h[155] = ' ';
    return Write(ByteSpan(h, kBlock));
  };
  // The ustar fields keep what fits (the name's first 100 bytes), so that a
  // reader without pax support still sees something close.
  std::string short_name = name.substr(0, 100);
  if (!records.empty()) {
    RETURN_IF_ERROR(
        header("PaxHeaders/" + name.substr(0, 88), 'x', records.size(), ""));
    RETURN_IF_ERROR(Write(AsBytes(records)));
    remaining_ = 0;
    RETURN_IF_ERROR(Finish());
  }
  RETURN_IF_ERROR(header(short_name, e.type, e.size, e.link.substr(0, 100)));
  remaining_ = e.size;
  return Ok();
}

Result<void> PaxWriter::Data(ByteSpan data) {
  if (data.size() > remaining_)
    return MakeError(ErrorCode::kUnknown,
                     "tar entry: more content than its header declares");
  remaining_ -= data.size();
  return Write(data);
}

Result<void> PaxWriter::Finish() {
  if (remaining_ != 0)
    return MakeError(ErrorCode::kUnknown,
                     "tar entry: less content than its header declares");
  static const std::uint8_t zeros[kBlock] = {};
  if (size_t pad = total_ % kBlock; pad != 0)
    RETURN_IF_ERROR(Write(ByteSpan(zeros, kBlock - pad)));
  return Ok();
}

Result<void> PaxWriter::Close() {
  static const std::uint8_t zeros[kBlock] = {};
  RETURN_IF_ERROR(Write(ByteSpan(zeros, kBlock)));
  RETURN_IF_ERROR(Write(ByteSpan(zeros, kBlock)));
  while (total_ % kRecord != 0) RETURN_IF_ERROR(Write(ByteSpan(zeros, kBlock)));
  return Flush();
}

Result<void> PaxWriter::Write(ByteSpan data) {
  total_ += data.size();
  buffer_.insert(buffer_.end(), data.begin(), data.end());
  if (buffer_.size() >= kFlushAt) return Flush();
  return Ok();
}

Result<void> PaxWriter::Flush() {
  if (buffer_.empty()) return Ok();
  Result<void> r = out_(buffer_);
  buffer_.clear();
  return r;
}

}  // namespace efs2s3::restorer
