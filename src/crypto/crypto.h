// crypto: the primitives the repository format is built from (docs/FORMAT.md).
//
//   Sha256            object names of packs/index/snapshots (hash of stored
//   bytes) HmacSha256        blob IDs (keyed, so IDs do not reveal plaintext
//   hashes) Seal / Open       AES-256-GCM: nonce(12) || ciphertext || tag(16)
//   DeriveKeyScrypt   password -> key-wrapping key
// All functions are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "base/result.h"

namespace efs2s3::crypto {

constexpr size_t kKeySize = 32;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kSealOverhead = kNonceSize + kTagSize;

using Key = std::array<std::uint8_t, kKeySize>;
using Digest = std::array<std::uint8_t, 32>;

Digest Sha256(ByteSpan data);
Digest HmacSha256(ByteSpan key, ByteSpan data);

// Incremental SHA-256 for streams.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(ByteSpan data);
  Digest Finish();

 private:
  void* ctx_;
};

// Encrypts and authenticates `plaintext` (and `aad`, which is not stored) with
// a fresh random nonce. Output: nonce || ciphertext || tag.
Bytes Seal(const Key& key, ByteSpan plaintext, ByteSpan aad = {});

// Decrypts what Seal produced. kCorruption if the data is too short or fails
// authentication (wrong key, any flipped bit).
Result<Bytes> Open(const Key& key, ByteSpan sealed, ByteSpan aad = {});

// The defaults of new keys: 16 MiB of memory (128 * N * r) and N * p = 81,920
// block mixes. Against N = 2^15, p = 1 (the default before): half the memory,
// about the same time on one core, and 1.25 times the attacker's area x time
// (memory x mixes), the measure of scrypt's strength. Keys store their own
// parameters, so keys made with others keep opening.
struct ScryptParams {
  std::uint64_t n = 1 << 14;
  std::uint32_t r = 8;
  std::uint32_t p = 5;
};

Result<Key> DeriveKeyScrypt(std::string_view password, ByteSpan salt,
                            const ScryptParams& params);

// Constant-time comparison.
bool Equal(ByteSpan a, ByteSpan b);

}  // namespace efs2s3::crypto
