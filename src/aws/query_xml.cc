#include "aws/query_xml.h"

#include <pugixml.hpp>
#include <string_view>

namespace efs2s3::aws {
namespace {

// The first element named `name` in document order, or an empty node.
pugi::xml_node Find(const pugi::xml_document& doc, std::string_view name) {
  return doc.find_node(
      [&](pugi::xml_node n) { return std::string_view(n.name()) == name; });
}

}  // namespace

std::optional<QueryError> ParseQueryError(ByteSpan body) {
  pugi::xml_document doc;
  if (body.empty() || !doc.load_buffer(body.data(), body.size()))
    return std::nullopt;
  pugi::xml_node e = Find(doc, "Error");
  if (!e) return std::nullopt;
  return QueryError{e.child_value("Code"), e.child_value("Message")};
}

Result<std::string> ParseSnsPublish(ByteSpan body) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size()))
    return MakeError(ErrorCode::kCorruption, "unreadable Publish answer");
  std::string id = Find(doc, "MessageId").child_value();
  if (id.empty())
    return MakeError(ErrorCode::kCorruption, "no MessageId in the answer");
  return id;
}

Result<StsCredentials> ParseAssumeRoleWithWebIdentity(ByteSpan body) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size()))
    return MakeError(ErrorCode::kCorruption, "unreadable STS answer");
  pugi::xml_node creds =
      Find(doc, "AssumeRoleWithWebIdentityResult").child("Credentials");
  StsCredentials c{
      creds.child_value("AccessKeyId"), creds.child_value("SecretAccessKey"),
      creds.child_value("SessionToken"), creds.child_value("Expiration")};
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    return MakeError(ErrorCode::kCorruption, "STS answer has no credentials");
  return c;
}

}  // namespace efs2s3::aws
