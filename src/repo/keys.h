// Key files: the repository's master key, wrapped under password-derived keys.
//
// keys/<name> is plain JSON holding scrypt parameters, a salt and the master
// key sealed (AES-256-GCM) under scrypt(password, salt). Any key file opens the
// repository; several passwords = several key files (docs/FORMAT.md, "Keys").
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "crypto/crypto.h"

namespace efs2s3::repo {

struct MasterKey {
  crypto::Key encrypt{};  // AES-256-GCM key for every object and blob
  crypto::Key id_key{};   // HMAC-SHA-256 key for blob IDs
};

MasterKey NewMasterKey();

struct KeyFileInfo {
  std::string created;  // RFC 3339
  std::string hostname;
  std::string username;
  crypto::ScryptParams params;
};

// Serialises a key file for `master` under `password`.
std::string MakeKeyFile(const MasterKey& master, std::string_view password,
                        const crypto::ScryptParams& params,
                        const KeyFileInfo& info);

// Parses a key file. kCorruption if malformed.
Result<KeyFileInfo> ParseKeyFileInfo(std::string_view text);

// Unwraps the master key. kWrongPassword if authentication fails, kCorruption
// if the file is malformed.
Result<MasterKey> OpenKeyFile(std::string_view text, std::string_view password);

}  // namespace efs2s3::repo
