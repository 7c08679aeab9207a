// 32-byte identifiers: blob IDs (keyed HMAC-SHA-256 of plaintext) and object
// names (SHA-256 of stored bytes). Shown as 64 lowercase hex digits.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include "base/bytes.h"

namespace efs2s3 {

struct Id {
  std::array<std::uint8_t, 32> bytes{};

  std::string Hex() const { return HexEncode(bytes); }
  std::string Short() const { return Hex().substr(0, 8); }
  bool IsZero() const {
    for (auto b : bytes)
      if (b) return false;
    return true;
  }
  static std::optional<Id> FromHex(std::string_view hex) {
    auto b = HexDecode(hex);
    if (!b || b->size() != 32) return std::nullopt;
    Id id;
    std::memcpy(id.bytes.data(), b->data(), 32);
    return id;
  }
  static Id FromSpan(ByteSpan s) {
    Id id;
    std::memcpy(id.bytes.data(), s.data(), 32);
    return id;
  }
  auto operator<=>(const Id&) const = default;
};

struct IdHash {
  size_t operator()(const Id& id) const {
    size_t h;
    std::memcpy(&h, id.bytes.data(), sizeof h);
    return h;
  }
};

}  // namespace efs2s3
