// Seeded random mutations of a valid encoding, for property tests of decoders
// that read bytes from storage or the network: whatever the bytes, a decoder
// returns a value or an error; it never crashes, hangs or allocates without
// bound (the sanitizer builds run these tests too). A failing case is replayed
// from the seed and index printed with it. Header-only, for tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "base/bytes.h"

namespace efs2s3::testing {

// The i-th mutation of `valid` for `seed`: flipped bits, bytes set to 0x00 or
// 0xff (length fields at their extremes), truncation, a tail of random bytes,
// a copied or deleted run, or wholly random data; one to eight of them.
inline Bytes Mutate(const Bytes& valid, std::uint64_t seed, std::uint64_t i) {
  std::mt19937_64 rng(seed * 1000003u + i);
  auto pick = [&](size_t n) {
    return n ? static_cast<size_t>(rng() % n) : size_t{0};
  };
  Bytes b = valid;
  int edits = 1 + static_cast<int>(rng() % 8);
  for (int e = 0; e < edits; ++e) {
    switch (rng() % 8) {
      case 0:
      case 1:
        if (!b.empty())
          b[pick(b.size())] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        break;
      case 2:
        if (!b.empty()) b[pick(b.size())] = (rng() & 1) ? 0xff : 0x00;
        break;
      case 3:
        b.resize(pick(b.size() + 1));
        break;
      case 4:
        for (size_t n = pick(64); n > 0; --n)
          b.push_back(static_cast<std::uint8_t>(rng()));
        break;
      case 5: {  // a run copied elsewhere
        if (b.size() < 2) break;
        size_t from = pick(b.size()),
               len = 1 + pick(std::min<size_t>(32, b.size() - from));
        Bytes run(b.begin() + static_cast<long>(from),
                  b.begin() + static_cast<long>(from + len));
        b.insert(b.begin() + static_cast<long>(pick(b.size() + 1)), run.begin(),
                 run.end());
        break;
      }
      case 6: {  // a run deleted
        if (b.empty()) break;
        size_t from = pick(b.size()),
               len = 1 + pick(std::min<size_t>(32, b.size() - from));
        b.erase(b.begin() + static_cast<long>(from),
                b.begin() + static_cast<long>(from + len));
        break;
      }
      default:
        if (rng() % 16 == 0) {
          b.resize(pick(256));
          for (auto& c : b) c = static_cast<std::uint8_t>(rng());
        }
    }
  }
  return b;
}

// Mutations per decoder in one test run: bounded, so the suite stays fast.
inline constexpr std::uint64_t kMutations = 4000;

}  // namespace efs2s3::testing
