#include "sync/manifest.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cstdlib>

#include "codec/compress.h"

namespace efs2s3::sync {
namespace {

constexpr std::string_view kHeader = "efs2s3-sync-manifest 1";
constexpr size_t kMaxText = size_t{1} << 32;

std::string EscapeField(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> UnescapeField(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i == s.size()) return std::nullopt;
    if (s[i] == 't') {
      out.push_back('\t');
    } else if (s[i] == 'n') {
      out.push_back('\n');
    } else if (s[i] == '\\') {
      out.push_back('\\');
    } else {
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace

Bytes EncodeManifest(const Manifest& m) {
  std::string text(kHeader);
  text += '\n';
  for (const auto& [key, e] : m) {
    text += EscapeField(key);
    text += fmt::format("\t{}\t{}\t", e.size, EscapeField(e.etag));
    if (!e.attrs) {
      text += "-\t-\t-\t-\t-\t-\n";
      continue;
    }
    const Attributes& a = *e.attrs;
    std::uint32_t type = a.kind == Kind::kDir       ? S_IFDIR
                         : a.kind == Kind::kSymlink ? S_IFLNK
                                                    : S_IFREG;
    // Without permission bits only the type is known: f, l or d.
    text += a.mode ? fmt::format("{:o}\t", type | (*a.mode & 07777))
            : a.kind == Kind::kDir     ? "d\t"
            : a.kind == Kind::kSymlink ? "l\t"
                                       : "f\t";
    text += a.uid ? std::to_string(*a.uid) : "-";
    text += '\t';
    text += a.gid ? std::to_string(*a.gid) : "-";
    text += '\t';
    text += FormatRcloneTime(a.mtime);
    text += '\t';
    text += a.atime ? FormatRcloneTime(*a.atime) : "-";
    text += '\t';
    text += a.md5.empty() ? "-" : a.md5;
    text += '\n';
  }
  Bytes out;
  PutU64(out, text.size());
  Bytes z = codec::Compress(AsBytes(text));
  out.insert(out.end(), z.begin(), z.end());
  return out;
}

Result<Manifest> DecodeManifest(ByteSpan data) {
  auto bad = [](const std::string& what) {
    return MakeError(ErrorCode::kCorruption, "sync manifest: " + what);
  };
  if (data.size() < 8) return bad("too short");
  std::uint64_t len = GetU64(data.data());
  if (len > kMaxText) return bad("impossible length");
  ASSIGN_OR_RETURN(
      Bytes text_bytes,
      codec::Decompress(data.subspan(8), static_cast<size_t>(len)));
  std::string_view text = AsString(text_bytes);
  size_t nl = text.find('\n');
  if (nl == std::string_view::npos || text.substr(0, nl) != kHeader)
    return bad("unknown header");
  Manifest m;
  size_t pos = nl + 1;
  int line_no = 1;
  while (pos < text.size()) {
    ++line_no;
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) return bad("truncated");
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    std::vector<std::string_view> f;
    size_t s = 0;
    for (;;) {
      size_t t = line.find('\t', s);
      f.push_back(line.substr(s, t == std::string_view::npos ? t : t - s));
      if (t == std::string_view::npos) break;
      s = t + 1;
    }
    auto fail = [&] {
      return bad(fmt::format("line {} is malformed", line_no));
    };
    if (f.size() != 9) return fail();
    auto key = UnescapeField(f[0]);
    auto size = ParseUint(f[1], 10);
    auto etag = UnescapeField(f[2]);
    if (!key || !size || !etag) return fail();
    ManifestEntry e{*size, *etag, std::nullopt};
    if (f[3] != "-") {
      auto mtime = ParseRcloneTime(f[6]);
      if (!mtime) return fail();
      Attributes a;
      if (f[3] == "f" || f[3] == "l" || f[3] == "d") {
        a.kind = f[3] == "d"   ? Kind::kDir
                 : f[3] == "l" ? Kind::kSymlink
                               : Kind::kFile;
      } else {
        auto mode = ParseUint(f[3], 8);
        if (!mode) return fail();
        std::uint64_t type = *mode & S_IFMT;
        a.kind = type == S_IFDIR   ? Kind::kDir
                 : type == S_IFLNK ? Kind::kSymlink
                                   : Kind::kFile;
        a.mode = static_cast<std::uint32_t>(*mode & 07777);
      }
      if (f[4] != "-") {
        auto v = ParseUint(f[4], 10);
        if (!v) return fail();
        a.uid = static_cast<std::uint32_t>(*v);
      }
      if (f[5] != "-") {
        auto v = ParseUint(f[5], 10);
        if (!v) return fail();
        a.gid = static_cast<std::uint32_t>(*v);
      }
      a.mtime = *mtime;
      if (f[7] != "-") {
        a.atime = ParseRcloneTime(f[7]);
        if (!a.atime) return fail();
      }
      if (f[8] != "-") a.md5 = std::string(f[8]);
      e.attrs = a;
    }
    m.emplace(std::move(*key), std::move(e));
  }
  return m;
}

}  // namespace efs2s3::sync
