// Byte buffers and their textual forms.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace efs2s3 {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

inline ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsString(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::string HexEncode(ByteSpan data);
// Returns nullopt unless `hex` is an even number of hex digits.
std::optional<Bytes> HexDecode(std::string_view hex);

// A number in `base` (10, or 8 for modes) without sign, spaces or anything
// else (server headers, fields of stored files); nullopt when malformed or
// beyond 2^64-1. Never throws.
std::optional<std::uint64_t> ParseUint(std::string_view text, int base = 10);

// Text for XML or HTML: & < > " ' as entities (&apos; is HTML5 too).
std::string EscapeMarkup(std::string_view text);

std::string Base64Encode(ByteSpan data);
std::optional<Bytes> Base64Decode(std::string_view text);

// Little-endian fixed-width integers.
inline void PutU32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline void PutU64(Bytes& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline std::uint32_t GetU32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline std::uint64_t GetU64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace efs2s3
