// Seeded random mutations of a valid encoding, for property tests of decoders
// that read bytes from storage or the network: whatever the bytes, a decoder
// returns a value or an error; it never crashes, hangs or allocates without
// bound (the sanitizer builds run these tests too). A failing case is replayed
// from the seed and index printed with it. Header-only, for tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
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

// How many seeded mutations ForEachVariant makes per decoder: `fallback`, or
// EFS2S3_PROPERTY_ITERATIONS when set (a longer search; the seeds stay fixed,
// so the first `fallback` variants are the same in both runs).
inline std::uint64_t PropertyIterations(std::uint64_t fallback = 3000) {
  const char* env = std::getenv("EFS2S3_PROPERTY_ITERATIONS");
  if (!env || !*env) return fallback;
  char* end = nullptr;
  unsigned long long n = std::strtoull(env, &end, 10);
  return end && *end == '\0' && n > 0 ? n : fallback;
}

// The i-th mutation of the corpus `valid` for `seed`: a Mutate() of one valid
// input, or a splice of two (the head of one, the tail of another) or a run
// duplicated in place (a repeated field or element), then mutated further.
inline Bytes MutateCorpus(const std::vector<Bytes>& valid, std::uint64_t seed,
                          std::uint64_t i) {
  std::mt19937_64 rng(seed * 7919u + i * 31u + 17u);
  const Bytes& a = valid[rng() % valid.size()];
  switch (rng() % 4) {
    case 0: {  // splice
      const Bytes& b = valid[rng() % valid.size()];
      size_t cut_a = a.empty() ? 0 : rng() % (a.size() + 1);
      size_t cut_b = b.empty() ? 0 : rng() % (b.size() + 1);
      Bytes s(a.begin(), a.begin() + static_cast<long>(cut_a));
      s.insert(s.end(), b.begin() + static_cast<long>(cut_b), b.end());
      return rng() % 2 ? s : Mutate(s, seed, i);
    }
    case 1: {  // a run duplicated where it stands
      if (a.empty()) return a;
      size_t from = rng() % a.size();
      size_t len = 1 + rng() % std::min<size_t>(a.size() - from, 256);
      Bytes d = a;
      d.insert(d.begin() + static_cast<long>(from + len),
               a.begin() + static_cast<long>(from),
               a.begin() + static_cast<long>(from + len));
      return rng() % 2 ? d : Mutate(d, seed, i);
    }
    default:
      return Mutate(a, seed, i);
  }
}

// Feeds `decode(const Bytes&)` every variant of the valid encodings that a
// property test tries:
//   - the valid inputs themselves;
//   - every single-byte flip (each byte XOR 0xff, and XOR one bit) and every
//     truncation of each valid input;
//   - PropertyIterations() seeded mutations (MutateCorpus);
//   - PropertyIterations() / 8 strings of random bytes, of every length up to
//     63 and then of random lengths up to 4 KiB.
// `decode` checks what it got with EXPECT_*; an exception that escapes it
// fails the test. The first variant that fails is named ("flip 3 of input 0",
// "mutation 12 of seed 5") and ends the loop.
template <typename Decode>
void ForEachVariant(const std::vector<Bytes>& valid, std::uint64_t seed,
                    Decode&& decode) {
  auto run = [&](const Bytes& b, const std::string& what) {
    SCOPED_TRACE(what);
    try {
      decode(b);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "exception escaped the decoder: " << e.what();
    } catch (...) {
      ADD_FAILURE() << "exception escaped the decoder";
    }
    return !::testing::Test::HasFailure();
  };
  for (size_t v = 0; v < valid.size(); ++v) {
    const Bytes& in = valid[v];
    const std::string of = " of input " + std::to_string(v);
    if (!run(in, "input" + of)) return;
    for (size_t k = 0; k < in.size(); ++k) {
      Bytes b = in;
      b[k] ^= 0xff;
      if (!run(b, "flip " + std::to_string(k) + of)) return;
      b[k] = in[k] ^ static_cast<std::uint8_t>(1u << (k % 8));
      if (!run(b, "bit flip " + std::to_string(k) + of)) return;
    }
    for (size_t n = 0; n < in.size(); ++n)
      if (!run(Bytes(in.begin(), in.begin() + static_cast<long>(n)),
               "truncation to " + std::to_string(n) + of))
        return;
  }
  const std::string of_seed = " of seed " + std::to_string(seed);
  const std::uint64_t n = PropertyIterations();
  for (std::uint64_t i = 0; i < n; ++i)
    if (!run(MutateCorpus(valid, seed, i),
             "mutation " + std::to_string(i) + of_seed))
      return;
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15u);
  for (std::uint64_t i = 0; i < n / 8; ++i) {
    Bytes b(i < 64 ? i : rng() % 4097);
    for (auto& c : b) c = static_cast<std::uint8_t>(rng());
    if (!run(b, "random bytes " + std::to_string(i) + of_seed)) return;
  }
}

// The same for decoders of text: `decode(const std::string&)`.
template <typename Decode>
void ForEachTextVariant(const std::vector<std::string>& valid,
                        std::uint64_t seed, Decode&& decode) {
  std::vector<Bytes> bytes;
  for (const auto& s : valid) bytes.emplace_back(s.begin(), s.end());
  ForEachVariant(bytes, seed, [&](const Bytes& b) {
    decode(std::string(b.begin(), b.end()));
  });
}

}  // namespace efs2s3::testing
