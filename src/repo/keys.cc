#include "repo/keys.h"

#include <cstring>
#include <nlohmann/json.hpp>

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

static Result<json> ParseKeyJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("kdf", "") != "scrypt" ||
      !j.contains("salt") || !j.contains("data") ||
      !j["N"].is_number_unsigned() || !j["r"].is_number_unsigned() ||
      !j["p"].is_number_unsigned())
    return MakeError(ErrorCode::kCorruption, "malformed key file");
  return j;
}

Result<KeyFileInfo> ParseKeyFileInfo(std::string_view text) {
  ASSIGN_OR_RETURN(json j, ParseKeyJson(text));
  KeyFileInfo info;
  info.created = j.value("created", "");
  info.hostname = j.value("hostname", "");
  info.username = j.value("username", "");
  info.params = {j["N"].get<std::uint64_t>(), j["r"].get<std::uint32_t>(),
                 j["p"].get<std::uint32_t>()};
  return info;
}

Result<MasterKey> OpenKeyFile(std::string_view text,
                              std::string_view password) {
  ASSIGN_OR_RETURN(json j, ParseKeyJson(text));
  ASSIGN_OR_RETURN(KeyFileInfo info, ParseKeyFileInfo(text));
  // Refuse parameters that would exhaust memory (a hostile key file).
  if (info.params.n > (1ULL << 24) || info.params.r > 64 || info.params.p > 64)
    return MakeError(ErrorCode::kCorruption,
                     "key file has excessive scrypt parameters");
  auto salt = Base64Decode(j["salt"].get<std::string>());
  auto data = Base64Decode(j["data"].get<std::string>());
  if (!salt || !data)
    return MakeError(ErrorCode::kCorruption, "malformed key file");
  ASSIGN_OR_RETURN(crypto::Key kwk,
                   crypto::DeriveKeyScrypt(password, *salt, info.params));
  auto inner = crypto::Open(kwk, *data);
  if (!inner) return MakeError(ErrorCode::kWrongPassword, "wrong password");
  json m = json::parse(AsString(*inner), nullptr, false);
  if (m.is_discarded() || !m.is_object() || !m.contains("encrypt") ||
      !m.contains("id_key"))
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
