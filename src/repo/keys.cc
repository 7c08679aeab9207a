#include "repo/keys.h"

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/file_util.h"

namespace efs2s3::repo {

using json = nlohmann::json;

MasterKey NewMasterKey() {
  MasterKey m;
  Bytes a = RandomBytes(32), b = RandomBytes(32);
  std::memcpy(m.encrypt.data(), a.data(), 32);
  std::memcpy(m.id_key.data(), b.data(), 32);
  return m;
}

std::string MakeKeyFile(const MasterKey& master, std::string_view password,
                        const crypto::ScryptParams& params,
                        const KeyFileInfo& info) {
  Bytes salt = RandomBytes(32);
  auto kwk = crypto::DeriveKeyScrypt(password, salt, params);
  EFS2S3_CHECK(kwk.has_value());
  json inner = {{"encrypt", Base64Encode(master.encrypt)},
                {"id_key", Base64Encode(master.id_key)}};
  Bytes sealed = crypto::Seal(*kwk, AsBytes(inner.dump()));
  json j = {{"version", 1},
            {"created", info.created},
            {"hostname", info.hostname},
            {"username", info.username},
            {"kdf", "scrypt"},
            {"N", params.n},
            {"r", params.r},
            {"p", params.p},
            {"salt", Base64Encode(salt)},
            {"data", Base64Encode(sealed)}};
  return j.dump(2);
}

// The string field `key` of `j`: "" when absent, nullopt when not a string.
static std::optional<std::string> StringField(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::string();
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

static bool IsUint(const json& j, const char* key, std::uint64_t max) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() &&
         it->get<std::uint64_t>() <= max;
}

// The key file's JSON, with every field it reads of the right type (a field
// of another type was an exception escaping the decoder).
static Result<json> ParseKeyJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  auto bad = [] {
    return MakeError(ErrorCode::kCorruption, "malformed key file");
  };
  if (j.is_discarded() || !j.is_object()) return bad();
  for (const char* key : {"kdf", "salt", "data"})
    if (!j.contains(key) || !j[key].is_string()) return bad();
  for (const char* key : {"created", "hostname", "username"})
    if (!StringField(j, key)) return bad();
  if (j["kdf"] != "scrypt" || !IsUint(j, "N", UINT64_MAX) ||
      !IsUint(j, "r", UINT32_MAX) || !IsUint(j, "p", UINT32_MAX))
    return bad();
  return j;
}

Result<KeyFileInfo> ParseKeyFileInfo(std::string_view text) {
  ASSIGN_OR_RETURN(json j, ParseKeyJson(text));
  KeyFileInfo info;
  info.created = *StringField(j, "created");
  info.hostname = *StringField(j, "hostname");
  info.username = *StringField(j, "username");
  info.params = {j["N"].get<std::uint64_t>(), j["r"].get<std::uint32_t>(),
                 j["p"].get<std::uint32_t>()};
  return info;
}

Result<MasterKey> OpenKeyFile(std::string_view text,
                              std::string_view password) {
  ASSIGN_OR_RETURN(json j, ParseKeyJson(text));
  ASSIGN_OR_RETURN(KeyFileInfo info, ParseKeyFileInfo(text));
  // Refuse parameters that would exhaust memory (a hostile key file): scrypt
  // takes 128 * N * r bytes, at most 1 GiB for what init writes (N <= 2^20,
  // r = 8). N up to 2^24 with r up to 64 let a key file ask for 128 GiB.
  if (info.params.n > (1ULL << 24) || info.params.r > 64 ||
      info.params.p > 64 || 128 * info.params.n * info.params.r > (1ULL << 30))
    return MakeError(ErrorCode::kCorruption,
                     "key file has excessive scrypt parameters");
  auto salt = Base64Decode(j["salt"].get<std::string>());
  auto data = Base64Decode(j["data"].get<std::string>());
  if (!salt || !data)
    return MakeError(ErrorCode::kCorruption, "malformed key file");
  auto kwk = crypto::DeriveKeyScrypt(password, *salt, info.params);
  if (!kwk)  // N not a power of two, or 0
    return MakeError(ErrorCode::kCorruption,
                     "key file has invalid scrypt parameters");
  auto inner = crypto::Open(*kwk, *data);
  if (!inner) return MakeError(ErrorCode::kWrongPassword, "wrong password");
  json m = json::parse(AsString(*inner), nullptr, false);
  if (m.is_discarded() || !m.is_object() || !m.contains("encrypt") ||
      !m["encrypt"].is_string() || !m.contains("id_key") ||
      !m["id_key"].is_string())
    return MakeError(ErrorCode::kCorruption, "malformed master key");
  auto enc = Base64Decode(m["encrypt"].get<std::string>());
  auto idk = Base64Decode(m["id_key"].get<std::string>());
  if (!enc || !idk || enc->size() != 32 || idk->size() != 32)
    return MakeError(ErrorCode::kCorruption, "malformed master key");
  MasterKey out;
  std::memcpy(out.encrypt.data(), enc->data(), 32);
  std::memcpy(out.id_key.data(), idk->data(), 32);
  return out;
}

}  // namespace efs2s3::repo
