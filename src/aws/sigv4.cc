#include "aws/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>

#include "base/result.h"

namespace efs2s3::aws {
namespace {

Bytes Digest(const EVP_MD* md, ByteSpan data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  EFS2S3_CHECK(
      EVP_Digest(data.data(), data.size(), out.data(), &n, md, nullptr) == 1);
  out.resize(n);
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims leading/trailing whitespace and collapses inner runs of spaces to one
// (SigV4 "Trimall"). Also turns line folds into single spaces.
std::string TrimAll(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string Sha256Hex(ByteSpan data) {
  return HexEncode(Digest(EVP_sha256(), data));
}

Bytes HmacSha256(ByteSpan key, ByteSpan data) {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  EFS2S3_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                    data.data(), data.size(), out.data(), &n) != nullptr);
  out.resize(n);
  return out;
}

std::string ContentMd5(ByteSpan data) {
  return Base64Encode(Digest(EVP_md5(), data));
}

std::string Md5Hex(ByteSpan data) { return HexEncode(Digest(EVP_md5(), data)); }

struct Md5::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
};

Md5::Md5() : ctx_(new Ctx) {
  EFS2S3_CHECK(ctx_->md != nullptr &&
               EVP_DigestInit_ex(ctx_->md, EVP_md5(), nullptr) == 1);
}

Md5::~Md5() {
  EVP_MD_CTX_free(ctx_->md);
  delete ctx_;
}

void Md5::Update(ByteSpan data) {
  EVP_DigestUpdate(ctx_->md, data.data(), data.size());
}

std::string Md5::Hex() {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_->md, out.data(), &n);
  out.resize(n);
  return HexEncode(out);
}

Result<BodyDigests> DigestBody(const Source& body, bool md5) {
  EVP_MD_CTX* sha = EVP_MD_CTX_new();
  EVP_MD_CTX* m = md5 ? EVP_MD_CTX_new() : nullptr;
  EFS2S3_CHECK(sha != nullptr && (!md5 || m != nullptr));
  EFS2S3_CHECK(EVP_DigestInit_ex(sha, EVP_sha256(), nullptr) == 1);
  if (m) EFS2S3_CHECK(EVP_DigestInit_ex(m, EVP_md5(), nullptr) == 1);
  auto read = ForEachPiece(body, 1 << 20, [&](ByteSpan piece) {
    EVP_DigestUpdate(sha, piece.data(), piece.size());
    if (m) EVP_DigestUpdate(m, piece.data(), piece.size());
  });
  BodyDigests out;
  unsigned int n = 0;
  out.sha256.resize(EVP_MAX_MD_SIZE);
  EVP_DigestFinal_ex(sha, out.sha256.data(), &n);
  out.sha256.resize(n);
  if (m) {
    out.md5.resize(EVP_MAX_MD_SIZE);
    EVP_DigestFinal_ex(m, out.md5.data(), &n);
    out.md5.resize(n);
  }
  EVP_MD_CTX_free(sha);
  EVP_MD_CTX_free(m);
  if (!read) return read.error();
  return out;
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~' || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string CanonicalQuery(
    const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query)
    enc.emplace_back(UriEncode(k, false), UriEncode(v, false));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out.push_back('&');
    out += k;
    out.push_back('=');
    out += v;
  }
  return out;
}

std::string CanonicalUri(std::string_view path, bool normalize) {
  if (path.empty()) return "/";
  if (!normalize) return UriEncode(path, true);
  // Generic rules (RFC 3986 dot-segment removal, empty segments dropped).
  std::vector<std::string_view> segs;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view seg = path.substr(pos, next - pos);
    if (seg == "..") {
      if (!segs.empty()) segs.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segs.push_back(seg);
    }
    pos = next + 1;
  }
  bool trailing =
      path.back() == '/' || path.ends_with("/.") || path.ends_with("/..");
  std::string out;
  for (auto seg : segs) out += "/" + UriEncode(seg, false);
  if (out.empty()) return "/";
  if (trailing) out.push_back('/');
  return out;
}

Signature Sign(const SigningRequest& req, const SigningKeyMaterial& key,
               const SigningScope& scope, bool normalize_path) {
  // Canonical headers: names lower-cased and sorted, values trimmed, repeated
  // names joined with ',' in the order they appear.
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : req.headers) {
    std::string n = Lower(name);
    auto [it, inserted] = headers.try_emplace(n, TrimAll(value));
    if (!inserted) it->second += "," + TrimAll(value);
  }
  Signature sig;
  std::string canonical_headers;
  for (const auto& [n, v] : headers) {
    canonical_headers += n + ":" + v + "\n";
    if (!sig.signed_headers.empty()) sig.signed_headers.push_back(';');
    sig.signed_headers += n;
  }
  sig.canonical_request = req.method + "\n" +
                          CanonicalUri(req.path, normalize_path) + "\n" +
                          CanonicalQuery(req.query) + "\n" + canonical_headers +
                          "\n" + sig.signed_headers + "\n" + req.payload_hash;
  std::string date = scope.amz_date.substr(0, 8);
  std::string credential_scope =
      date + "/" + scope.region + "/" + scope.service + "/aws4_request";
  sig.string_to_sign = "AWS4-HMAC-SHA256\n" + scope.amz_date + "\n" +
                       credential_scope + "\n" +
                       Sha256Hex(AsBytes(sig.canonical_request));
  std::string secret = "AWS4" + key.secret_access_key;
  Bytes k = HmacSha256(AsBytes(secret), AsBytes(date));
  k = HmacSha256(k, AsBytes(scope.region));
  k = HmacSha256(k, AsBytes(scope.service));
  k = HmacSha256(k, AsBytes("aws4_request"));
  sig.signature = HexEncode(HmacSha256(k, AsBytes(sig.string_to_sign)));
  sig.authorization = "AWS4-HMAC-SHA256 Credential=" + key.access_key_id + "/" +
                      credential_scope +
                      ", SignedHeaders=" + sig.signed_headers +
                      ", Signature=" + sig.signature;
  return sig;
}

std::string AmzDate(long long unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

HeaderList SignNow(SigningRequest req, const std::string& host,
                   const SigningKeyMaterial& key,
                   const std::string& session_token, const std::string& region,
                   const std::string& service, bool normalize_path) {
  const std::string date =
      AmzDate(std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count());
  req.headers.emplace_back("Host", host);
  req.headers.emplace_back("x-amz-date", date);
  if (!session_token.empty())
    req.headers.emplace_back("x-amz-security-token", session_token);
  Signature sig = Sign(req, key, {region, service, date}, normalize_path);
  req.headers.emplace_back("Authorization", sig.authorization);
  return std::move(req.headers);
}

}  // namespace efs2s3::aws
