#include "sync/names.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "base/bytes.h"

namespace efs2s3::sync {
namespace {

constexpr std::string_view kQuote = "\xe2\x80\x9b";  // U+201B

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t Utf8Len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  std::uint32_t cp = 0;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  // Overlong forms, surrogates and code points beyond U+10FFFF are invalid.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
      (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::optional<std::uint32_t> ParseU32(std::string_view s, int base) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  std::string tmp(s);
  char* end = nullptr;
  unsigned long long v = std::strtoull(tmp.c_str(), &end, base);
  if (*end != '\0' || v > 0xffffffffull) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8Len(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string EscapeName(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size();) {
    if (raw.substr(i, kQuote.size()) == kQuote) {
      out += kQuote;
      out += kQuote;
      i += kQuote.size();
      continue;
    }
    size_t n = Utf8Len(raw, i);
    auto c = static_cast<unsigned char>(raw[i]);
    if (n == 0 || (c < 0x20 && c != '\t' && c != '\n')) {
      out += kQuote;
      out += fmt::format("{:02X}", c);
      ++i;
      continue;
    }
    out.append(raw.substr(i, n));
    i += n;
  }
  return out;
}

std::string UnescapeKey(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (size_t i = 0; i < key.size();) {
    if (key.substr(i, kQuote.size()) == kQuote) {
      size_t j = i + kQuote.size();
      if (key.substr(j, kQuote.size()) == kQuote) {
        out += kQuote;
        i = j + kQuote.size();
        continue;
      }
      if (j + 2 <= key.size() && HexVal(key[j]) >= 0 &&
          HexVal(key[j + 1]) >= 0) {
        out.push_back(
            static_cast<char>(HexVal(key[j]) * 16 + HexVal(key[j + 1])));
        i = j + 2;
        continue;
      }
    }
    out.push_back(key[i]);
    ++i;
  }
  return out;
}

bool IsSafeRelativePath(std::string_view rel) {
  if (rel.empty() || rel.front() == '/') return false;
  if (rel.find('\0') != std::string_view::npos) return false;
  size_t start = 0;
  for (;;) {
    size_t end = rel.find('/', start);
    std::string_view comp =
        rel.substr(start, end == std::string_view::npos ? std::string_view::npos
                                                        : end - start);
    if (comp.empty() || comp == "." || comp == "..") return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

std::string FormatRcloneTime(Time t) {
  if (t.sec < 0 && t.nsec > 0)  // -1.5 s is {-2, 500000000}
    return fmt::format("-{}.{:09}", -(t.sec + 1), 1000000000u - t.nsec);
  return fmt::format("{}.{:09}", t.sec, t.nsec);
}

std::optional<Time> ParseRcloneTime(std::string_view s) {
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac =
      dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  bool neg = !whole.empty() && whole.front() == '-';
  if (neg) whole.remove_prefix(1);
  if (!AllDigits(whole) || whole.size() > 15) return std::nullopt;
  if (!frac.empty() && !AllDigits(frac)) return std::nullopt;
  Time t;
  t.sec = std::strtoll(std::string(whole).c_str(), nullptr, 10);
  if (neg) t.sec = -t.sec;
  std::string f(frac.substr(0, 9));
  f.resize(9, '0');
  t.nsec = static_cast<std::uint32_t>(std::strtoul(f.c_str(), nullptr, 10));
  if (neg && t.nsec > 0) {
    t.sec -= 1;
    t.nsec = 1000000000u - t.nsec;
  }
  return t;
}

std::string FormatRfc3339(Time t) {
  time_t secs = static_cast<time_t>(t.sec);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, t.nsec);
}

std::optional<Time> ParseRfc3339(std::string_view s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0, used = 0;
  std::string str(s);
  if (std::sscanf(str.c_str(), "%d-%d-%dT%d:%d:%d%n", &y, &mo, &d, &h, &mi, &se,
                  &used) != 6)
    return std::nullopt;
  std::string_view rest = s.substr(static_cast<size_t>(used));
  std::uint32_t nsec = 0;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    size_t n = 0;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9') ++n;
    std::string f(rest.substr(0, std::min<size_t>(n, 9)));
    f.resize(9, '0');
    nsec = static_cast<std::uint32_t>(std::strtoul(f.c_str(), nullptr, 10));
    rest.remove_prefix(n);
  }
  long offset = 0;
  if (rest == "Z" || rest == "z") {
    offset = 0;
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') &&
             rest[3] == ':') {
    int oh = 0, om = 0;
    if (std::sscanf(std::string(rest.substr(1)).c_str(), "%d:%d", &oh, &om) !=
        2)
      return std::nullopt;
    offset = (oh * 3600L + om * 60L) * (rest[0] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  return Time{static_cast<std::int64_t>(timegm(&tm)) - offset, nsec};
}

std::optional<Time> ParseHttpDate(std::string_view s) {
  struct tm tm {};
  std::string str(s);
  const char* end = strptime(str.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (!end) return std::nullopt;
  return Time{static_cast<std::int64_t>(timegm(&tm)), 0};
}

std::vector<std::pair<std::string, std::string>> ToMetadata(const Attributes& a,
                                                            bool with_md5) {
  std::vector<std::pair<std::string, std::string>> m;
  m.emplace_back("mtime", FormatRcloneTime(a.mtime));
  if (a.atime) m.emplace_back("atime", FormatRfc3339(*a.atime));
  if (a.mode) {
    std::uint32_t type = a.kind == Kind::kDir       ? S_IFDIR
                         : a.kind == Kind::kSymlink ? S_IFLNK
                                                    : S_IFREG;
    m.emplace_back("mode", fmt::format("{:o}", type | (*a.mode & 07777)));
  }
  if (a.uid) m.emplace_back("uid", std::to_string(*a.uid));
  if (a.gid) m.emplace_back("gid", std::to_string(*a.gid));
  if (with_md5 && !a.md5.empty()) {
    auto raw = HexDecode(a.md5);
    if (raw) m.emplace_back("md5chksum", Base64Encode(*raw));
  }
  return m;
}

std::optional<Attributes> FromMetadata(
    const std::map<std::string, std::string>& meta) {
  auto get = [&](const char* k) -> std::string {
    auto it = meta.find(k);
    return it == meta.end() ? "" : it->second;
  };
  auto mtime = ParseRcloneTime(get("mtime"));
  if (!mtime) mtime = ParseRfc3339(get("mtime"));
  if (!mtime) return std::nullopt;
  Attributes a;
  a.mtime = *mtime;
  if (auto at = ParseRfc3339(get("atime"))) a.atime = at;
  if (auto mode = ParseU32(get("mode"), 8)) {
    std::uint32_t type = *mode & S_IFMT;
    a.kind = type == S_IFDIR   ? Kind::kDir
             : type == S_IFLNK ? Kind::kSymlink
                               : Kind::kFile;
    a.mode = *mode & 07777;
  }
  a.uid = ParseU32(get("uid"), 10);
  a.gid = ParseU32(get("gid"), 10);
  if (auto md5 = Base64Decode(get("md5chksum")); md5 && md5->size() == 16)
    a.md5 = HexEncode(*md5);
  return a;
}

}  // namespace efs2s3::sync
