// Property tests of the decoders of what AWS services and metadata endpoints
// answer: S3's XML (listings of objects, versions and uploads, errors,
// multipart, Object Lock) and times, the query protocol's XML (STS, SNS),
// Content-Range, credential documents (ECS, IMDS, credential_process), AWS
// config files and times. Every flip, truncation, seeded mutation and random
// input of a valid answer decodes to a value or an error, never to a crash, an
// escaped exception or an unbounded allocation (base/testing/mutate.h,
// base/testing/alloc_limit.cc).
#include <gtest/gtest.h>

#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/query_xml.h"
#include "aws/s3_xml.h"
#include "aws/testing/xml_answers.h"
#include "base/testing/mutate.h"

namespace efs2s3::aws {
namespace {

using namespace xml_answers;

const char kLockEnabled[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>
<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <ObjectLockEnabled>Enabled</ObjectLockEnabled>
  <Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention></Rule>
</ObjectLockConfiguration>)";

const char kCompleteError[] =
    R"(<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>)";

// A decoder that returns Result<T>: a value, or kCorruption.
template <typename Decode>
void ExpectValueOrCorruption(std::vector<const char*> valid, std::uint64_t seed,
                             Decode decode) {
  std::vector<Bytes> bytes;
  for (const char* v : valid) {
    bytes.push_back(ToBytes(v));
    EXPECT_TRUE(decode(bytes.back())) << v;
  }
  testing::ForEachVariant(bytes, seed, [&](const Bytes& b) {
    auto r = decode(b);
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kCorruption) << r.error().message;
    }
  });
}

TEST(DecodePropertyTest, S3ListingsDecodeOrAreCorruption) {
  ExpectValueOrCorruption({kList}, 501, [](const Bytes& b) {
    auto r = ParseListObjectsV2(b);
    // Truncated pages name where to go on (or the client would loop).
    if (r && r->truncated && r->next_token.empty())
      return Result<ListObjectsPage>(
          MakeError(ErrorCode::kCorruption, "test: truncated without token"));
    return r;
  });
  ExpectValueOrCorruption({kUploads}, 502, [](const Bytes& b) {
    return ParseListMultipartUploads(b);
  });
  ExpectValueOrCorruption({kVersions}, 516, [](const Bytes& b) {
    auto r = ParseListObjectVersions(b);
    if (r) {
      for (const ObjectVersion& v : r->versions) {
        EXPECT_FALSE(v.key.empty());
        EXPECT_FALSE(v.version_id.empty());
      }
    }
    return r;
  });
}

TEST(DecodePropertyTest, S3TimesParseOrAreCorruption) {
  // Regression (UBSan): years beyond 64-bit nanoseconds overflowed.
  for (const char* far : {"0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"}) {
    auto r = ParseS3Time(far);
    ASSERT_FALSE(r) << far;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  }
  testing::ForEachTextVariant(
      {"2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123456789Z",
       "2026-12-03T06:38:01.830+01:00"},
      517, [](const std::string& text) {
        auto t = ParseS3Time(text);
        if (!t) {
          EXPECT_EQ(t.error().code, ErrorCode::kCorruption);
        }
      });
}

TEST(DecodePropertyTest, S3MultipartAnswersDecodeOrAreCorruption) {
  ExpectValueOrCorruption({kInitiate}, 503, [](const Bytes& b) {
    auto r = ParseInitiateMultipartUpload(b);
    if (r) {
      EXPECT_FALSE(r->empty());
    }
    return r;
  });
  ExpectValueOrCorruption({kComplete, kCompleteError}, 504, [](const Bytes& b) {
    return ParseCompleteMultipartUpload(b);
  });
  ExpectValueOrCorruption({kDelete}, 505,
                          [](const Bytes& b) { return ParseDeleteResult(b); });
}

TEST(DecodePropertyTest, S3ObjectLockConfigurationDecodesOrIsCorruption) {
  ExpectValueOrCorruption({kLockEnabled}, 506, [](const Bytes& b) {
    return ParseObjectLockEnabled(b);
  });
}

TEST(DecodePropertyTest, S3ErrorBodiesNeverFail) {
  testing::ForEachVariant({ToBytes(kError), ToBytes(kCompleteError)}, 507,
                          [](const Bytes& b) {
                            auto e = ParseS3ErrorBody(b);
                            if (e) {
                              EXPECT_EQ(e->code, ParseS3Code(e->code_text));
                            }
                          });
}

TEST(DecodePropertyTest, QueryAnswersDecodeOrAreCorruption) {
  ExpectValueOrCorruption({kPublish}, 508,
                          [](const Bytes& b) { return ParseSnsPublish(b); });
  ExpectValueOrCorruption({kSts}, 509, [](const Bytes& b) {
    auto r = ParseAssumeRoleWithWebIdentity(b);
    if (r) {
      EXPECT_FALSE(r->access_key_id.empty());
      EXPECT_FALSE(r->secret_access_key.empty());
    }
    return r;
  });
  testing::ForEachVariant({ToBytes(kQueryError)}, 510,
                          [](const Bytes& b) { (void)ParseQueryError(b); });
}

TEST(DecodePropertyTest, ContentRangesRoundTripOrAreRejected) {
  testing::ForEachTextVariant(
      {"bytes 0-0/1", "bytes 5-7/10",
       "bytes 0-18446744073709551614/18446744073709551615"},
      511, [](const std::string& text) {
        auto r = ParseContentRange(text);
        if (!r) return;
        EXPECT_LE(r->first, r->last);
        EXPECT_LT(r->last, r->total);
        auto again = ParseContentRange("bytes " + std::to_string(r->first) +
                                       "-" + std::to_string(r->last) + "/" +
                                       std::to_string(r->total));
        ASSERT_TRUE(again);
        EXPECT_EQ(again->first, r->first);
        EXPECT_EQ(again->total, r->total);
      });
}

TEST(DecodePropertyTest, CredentialDocumentsDecodeOrAreRefused) {
  const std::string ecs =
      R"({"AccessKeyId":"ASIAX","SecretAccessKey":"s3cr3t","Token":"tok",)"
      R"("Expiration":"2024-05-01T12:00:00Z","RoleArn":"arn:aws:iam::1:role/r"})";
  const std::string imds =
      R"({"Code":"Success","LastUpdated":"2024-05-01T11:00:00Z",)"
      R"("Type":"AWS-HMAC","AccessKeyId":"ASIAY","SecretAccessKey":"k",)"
      R"("Token":"t","Expiration":"2024-05-01T17:00:00.123+01:00"})";
  const std::string process =
      R"({"Version":1,"AccessKeyId":"AKIA","SecretAccessKey":"x",)"
      R"("SessionToken":"y"})";
  for (const auto& v : {ecs, imds, process})
    EXPECT_TRUE(ParseJsonCredentials(v, "test")) << v;
  testing::ForEachTextVariant(
      {ecs, imds, process}, 512, [](const std::string& text) {
        auto r = ParseJsonCredentials(text, "test");
        if (r) {
          EXPECT_FALSE(r->access_key_id.empty());
          EXPECT_FALSE(r->secret_access_key.empty());
        } else {
          EXPECT_EQ(r.error().code, ErrorCode::kPermission);
        }
      });
}

TEST(DecodePropertyTest, AwsConfigFilesAndTimesParse) {
  testing::ForEachTextVariant(
      {"[default]\naws_access_key_id = A\n# c\n[profile x]\nregion=eu-west-1\n"
       "; other\nrole_arn = arn:aws:iam::1:role/r\n"},
      513, [](const std::string& text) {
        for (const auto& [section, keys] : ParseIni(text))
          for (const auto& [key, value] : keys)
            EXPECT_EQ(key.find('\n'), std::string::npos);
      });
  // Regression (UBSan): a year past 2262 overflowed system_clock.
  EXPECT_FALSE(ParseIsoTime("3024-05-01T12:00:00Z"));
  testing::ForEachTextVariant(
      {"2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123456Z",
       "2024-05-01T12:00:00-07:30", "2262-04-11T23:47:16Z"},
      514, [](const std::string& text) { (void)ParseIsoTime(text); });
}

TEST(DecodePropertyTest, UrlDecodingOfListedKeys) {
  testing::ForEachTextVariant({"repo/a%20b%2Bc", "%E2%82%AC+x", "%", "%g1%"},
                              515, [](const std::string& text) {
                                EXPECT_LE(UrlDecode(text).size(), text.size());
                              });
}

}  // namespace
}  // namespace efs2s3::aws
