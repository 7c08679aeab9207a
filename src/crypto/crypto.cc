#include "crypto/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include "base/file_util.h"

namespace efs2s3::crypto {

Digest Sha256(ByteSpan data) {
  Digest d{};
  unsigned int len = 0;
  EFS2S3_CHECK(EVP_Digest(data.data(), data.size(), d.data(), &len,
                          EVP_sha256(), nullptr) == 1);
  return d;
}

Digest HmacSha256(ByteSpan key, ByteSpan data) {
  Digest d{};
  unsigned int len = 0;
  EFS2S3_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                    data.data(), data.size(), d.data(), &len) != nullptr);
  return d;
}

Sha256Stream::Sha256Stream() : ctx_(EVP_MD_CTX_new()) {
  EFS2S3_CHECK(EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(),
                                 nullptr) == 1);
}
Sha256Stream::~Sha256Stream() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}
void Sha256Stream::Update(ByteSpan data) {
  EFS2S3_CHECK(EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(),
                                data.size()) == 1);
}
Digest Sha256Stream::Finish() {
  Digest d{};
  unsigned int len = 0;
  EFS2S3_CHECK(
      EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), d.data(), &len) == 1);
  return d;
}

namespace {
struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};
}  // namespace

Bytes Seal(const Key& key, ByteSpan plaintext, ByteSpan aad) {
  Bytes out(kNonceSize + plaintext.size() + kTagSize);
  Bytes nonce = RandomBytes(kNonceSize);
  std::copy(nonce.begin(), nonce.end(), out.begin());
  CipherCtx c;
  int len = 0;
  EFS2S3_CHECK(EVP_EncryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, key.data(),
                                  nonce.data()) == 1);
  if (!aad.empty())
    EFS2S3_CHECK(EVP_EncryptUpdate(c.ctx, nullptr, &len, aad.data(),
                                   static_cast<int>(aad.size())) == 1);
  EFS2S3_CHECK(EVP_EncryptUpdate(c.ctx, out.data() + kNonceSize, &len,
                                 plaintext.data(),
                                 static_cast<int>(plaintext.size())) == 1);
  EFS2S3_CHECK(
      EVP_EncryptFinal_ex(c.ctx, out.data() + kNonceSize + len, &len) == 1);
  EFS2S3_CHECK(
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, kTagSize,
                          out.data() + kNonceSize + plaintext.size()) == 1);
  return out;
}

Result<Bytes> Open(const Key& key, ByteSpan sealed, ByteSpan aad) {
  if (sealed.size() < kSealOverhead)
    return MakeError(ErrorCode::kCorruption, "ciphertext too short");
  size_t n = sealed.size() - kSealOverhead;
  Bytes out(n);
  CipherCtx c;
  int len = 0;
  EFS2S3_CHECK(EVP_DecryptInit_ex(c.ctx, EVP_aes_256_gcm(), nullptr, key.data(),
                                  sealed.data()) == 1);
  if (!aad.empty())
    EFS2S3_CHECK(EVP_DecryptUpdate(c.ctx, nullptr, &len, aad.data(),
                                   static_cast<int>(aad.size())) == 1);
  EFS2S3_CHECK(EVP_DecryptUpdate(c.ctx, out.data(), &len,
                                 sealed.data() + kNonceSize,
                                 static_cast<int>(n)) == 1);
  Bytes tag(sealed.end() - kTagSize, sealed.end());
  EFS2S3_CHECK(EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, kTagSize,
                                   tag.data()) == 1);
  if (EVP_DecryptFinal_ex(c.ctx, out.data() + len, &len) != 1)
    return MakeError(ErrorCode::kCorruption, "authentication failed");
  return out;
}

Result<Key> DeriveKeyScrypt(std::string_view password, ByteSpan salt,
                            const ScryptParams& params) {
  Key key{};
  // 32 * N * r bytes of memory; allow that plus slack.
  std::uint64_t maxmem = 128 * params.n * params.r + (64u << 20);
  if (EVP_PBE_scrypt(password.data(), password.size(), salt.data(), salt.size(),
                     params.n, params.r, params.p, maxmem, key.data(),
                     key.size()) != 1)
    return MakeError(ErrorCode::kInvalidArgument, "scrypt: invalid parameters");
  return key;
}

bool Equal(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace efs2s3::crypto
