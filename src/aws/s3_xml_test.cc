// The XML decoders (S3's, and the query protocol's: SNS, STS) on answers
// shaped as the services send them (their property tests, on any bytes, are in
// decode_property_test.cc). Also the classification of S3 errors and the
// Content-Range parser.
#include "aws/s3_xml.h"

#include <gtest/gtest.h>

#include "aws/http.h"
#include "aws/query_xml.h"
#include "aws/s3_client.h"
#include "aws/s3_errors.h"
#include "aws/testing/xml_answers.h"

namespace efs2s3::aws {
namespace {

using namespace xml_answers;

Bytes B(const char* s) { return ToBytes(s); }

TEST(S3XmlTest, ListObjectsV2) {
  auto page = ParseListObjectsV2(B(kList));
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "repo/a b+c");
  EXPECT_EQ(page->objects[0].size, 1234u);
  EXPECT_EQ(page->objects[0].etag, "9e107d9d372bb6826bd81d3542a419d6");
  EXPECT_EQ(page->objects[0].last_modified, "2024-01-02T03:04:05.000Z");
  EXPECT_EQ(page->objects[1].key, "repo/\xE2\x82\xAC x");
  EXPECT_EQ(page->objects[1].etag, "d41d8cd98f00b204e9800998ecf8427e-2");
  EXPECT_EQ(page->objects[0].storage_class, "STANDARD");
  EXPECT_EQ(page->objects[1].storage_class, "");
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");

  // Without EncodingType, keys are taken as they are.
  auto plain = ParseListObjectsV2(
      B("<ListBucketResult><Contents><Key>a%20b</Key><Size>1</Size>"
        "</Contents></ListBucketResult>"));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->objects[0].key, "a%20b");
  EXPECT_FALSE(plain->truncated);

  for (const char* bad :
       {"", "<ListBucketResult>", "<Error/>",
        "<ListBucketResult><Contents><Size>-1</Size></Contents>"
        "</ListBucketResult>",
        "<ListBucketResult><Contents><Size>99999999999999999999</Size>"
        "</Contents></ListBucketResult>"}) {
    auto r = ParseListObjectsV2(B(bad));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  }
}

TEST(S3XmlTest, RestoreHeaderAndRequest) {
  EXPECT_FALSE(ParseRestoreHeader("").requested);
  RestoreState on = ParseRestoreHeader(R"(ongoing-request="true")");
  EXPECT_TRUE(on.requested);
  EXPECT_TRUE(on.ongoing);
  RestoreState done = ParseRestoreHeader(
      R"(ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT")");
  EXPECT_TRUE(done.requested);
  EXPECT_FALSE(done.ongoing);
  EXPECT_EQ(done.expiry, 1356048000);
  EXPECT_EQ(HttpDateSeconds("Fri, 21 Dec 2012 00:00:00 GMT"), 1356048000);
  EXPECT_EQ(HttpDateSeconds("yesterday"), 0);
  EXPECT_EQ(
      RestoreRequestBody(7, "Bulk"),
      R"(<RestoreRequest xmlns="http://s3.amazonaws.com/doc/2006-03-01/">)"
      "<Days>7</Days><GlacierJobParameters><Tier>Bulk</Tier>"
      "</GlacierJobParameters></RestoreRequest>");
  // INTELLIGENT_TIERING archive tiers: no Days.
  EXPECT_EQ(RestoreRequestBody(0, "Standard").find("<Days>"),
            std::string::npos);
  EXPECT_EQ(ParseS3Code("RestoreAlreadyInProgress"),
            S3Code::kRestoreAlreadyInProgress);
}

TEST(S3XmlTest, ListObjectVersions) {
  auto page = ParseListObjectVersions(B(kVersions));
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->versions.size(), 3u);
  const ObjectVersion& marker = page->versions[0];
  EXPECT_EQ(marker.key, "r/config");
  EXPECT_TRUE(marker.delete_marker);
  EXPECT_TRUE(marker.is_latest);
  EXPECT_EQ(marker.version_id, "vsKA9nFV");
  EXPECT_EQ(marker.size, 0u);
  EXPECT_EQ(marker.last_modified, "2026-12-03T06:38:01.830Z");
  EXPECT_EQ(marker.last_modified_ns, 1796279881830000000);
  const ObjectVersion& old = page->versions[1];
  EXPECT_FALSE(old.delete_marker);
  EXPECT_FALSE(old.is_latest);
  EXPECT_EQ(old.version_id, "96yIKbyw");
  EXPECT_EQ(old.size, 3u);
  EXPECT_EQ(old.etag, "bfcc9da4f2e1d313c63cd0a4ee7604e9");
  EXPECT_EQ(old.storage_class, "STANDARD");
  EXPECT_EQ(old.last_modified_ns, 1796279879979000000);
  const ObjectVersion& key = page->versions[2];
  EXPECT_EQ(key.key, "r/keys/k 1");
  EXPECT_EQ(key.version_id, "null");
  EXPECT_EQ(key.size, 12345678901u);
  EXPECT_EQ(key.storage_class, "GLACIER_IR");
  EXPECT_EQ(key.last_modified_ns, 1796279883000000000);
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_key_marker, "r/keys/k 1");
  EXPECT_EQ(page->next_version_id_marker, "vZJC7a65");

  auto empty = ParseListObjectVersions(B("<ListVersionsResult/>"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->versions.empty());
  EXPECT_FALSE(empty->truncated);

  for (const char* bad :
       {"", "<ListBucketResult/>",
        "<ListVersionsResult><Version><VersionId>v</VersionId><LastModified>"
        "2026-12-03T06:38:01Z</LastModified><Size>1</Size></Version>"
        "</ListVersionsResult>",
        "<ListVersionsResult><Version><Key>k</Key><LastModified>"
        "2026-12-03T06:38:01Z</LastModified><Size>1</Size></Version>"
        "</ListVersionsResult>",
        "<ListVersionsResult><Version><Key>k</Key><VersionId>v</VersionId>"
        "<LastModified>yesterday</LastModified><Size>1</Size></Version>"
        "</ListVersionsResult>",
        "<ListVersionsResult><Version><Key>k</Key><VersionId>v</VersionId>"
        "<LastModified>2026-12-03T06:38:01Z</LastModified><Size>x</Size>"
        "</Version></ListVersionsResult>",
        "<ListVersionsResult><DeleteMarker><Key>k</Key><VersionId>v"
        "</VersionId></DeleteMarker></ListVersionsResult>"}) {
    auto r = ParseListObjectVersions(B(bad));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  }
}

TEST(S3XmlTest, S3TimesKeepFractionsAndOffsets) {
  EXPECT_EQ(*ParseS3Time("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseS3Time("1970-01-01T00:00:01.5Z"), 1500000000);
  EXPECT_EQ(*ParseS3Time("2024-02-29T12:00:00.000Z"), 1709208000000000000);
  EXPECT_EQ(*ParseS3Time("2024-02-29T13:30:00.000+01:30"), 1709208000000000000);
  EXPECT_EQ(*ParseS3Time("2024-02-29T10:00:00-02:00"), 1709208000000000000);
  // Digits past nanoseconds are dropped, not rounded.
  EXPECT_EQ(*ParseS3Time("1969-12-31T23:59:59.1234567899Z"), -876543211);
  for (const char* bad :
       {"", "2024-02-29", "2024-02-29T12:00:00", "2024-13-01T00:00:00Z",
        "2024-02-29T24:00:00Z", "2024-02-29T12:00:00.Z",
        "2024-02-29T12:00:00Zx", "2024-02-29 12:00:00Z", "+024-02-29T12:00:00Z",
        "2024-02-29T12:00:00+1:00"}) {
    auto r = ParseS3Time(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kCorruption);
  }
}

TEST(S3XmlTest, ListMultipartUploads) {
  auto page = ParseListMultipartUploads(B(kUploads));
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->uploads.size(), 1u);
  EXPECT_EQ(page->uploads[0].key, "repo/data/ab/abcd");
  EXPECT_EQ(page->uploads[0].upload_id, "2~x");
  EXPECT_EQ(page->uploads[0].initiated, "2024-05-01T10:00:00.000Z");
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_key_marker, "repo/data/ab/abcd");
  EXPECT_EQ(page->next_upload_id_marker, "2~x");
  EXPECT_FALSE(ParseListMultipartUploads(B("<x/>")));
}

TEST(S3XmlTest, InitiateAndCompleteMultipartUpload) {
  auto id = ParseInitiateMultipartUpload(B(kInitiate));
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "2~iCw_lDY8VoNl");
  EXPECT_EQ(ParseInitiateMultipartUpload(B("<InitiateMultipartUploadResult/>"))
                .error()
                .code,
            ErrorCode::kCorruption);

  auto done = ParseCompleteMultipartUpload(B(kComplete));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->etag, "3858f62230ac3c915f300c664312c11f-9");
  EXPECT_FALSE(done->error);
  // S3 may answer 200 and put the error in the body.
  auto failed = ParseCompleteMultipartUpload(
      B("<Error><Code>InternalError</Code><Message>try again</Message>"
        "</Error>"));
  ASSERT_TRUE(failed);
  ASSERT_TRUE(failed->error);
  EXPECT_EQ(failed->error->code, S3Code::kInternalError);
  EXPECT_EQ(failed->error->message, "try again");
}

TEST(S3XmlTest, ErrorBodyAndDeleteResult) {
  auto e = ParseS3ErrorBody(B(kError));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, S3Code::kNoSuchKey);
  EXPECT_EQ(e->code_text, "NoSuchKey");
  EXPECT_EQ(e->message, "The specified key does not exist.");
  EXPECT_FALSE(ParseS3ErrorBody({}));
  EXPECT_FALSE(ParseS3ErrorBody(B("<html>502 Bad Gateway</html>")));
  auto other = ParseS3ErrorBody(B("<Error><Code>Weird</Code></Error>"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->code, S3Code::kOther);
  EXPECT_EQ(other->code_text, "Weird");

  auto failures = ParseDeleteResult(B(kDelete));
  ASSERT_TRUE(failures);
  ASSERT_EQ(failures->size(), 2u);
  EXPECT_EQ((*failures)[0].key, "a");
  EXPECT_EQ((*failures)[0].error.code, S3Code::kOther);
  EXPECT_EQ((*failures)[1].error.code, S3Code::kNoSuchKey);
  EXPECT_TRUE(ParseDeleteResult({})->empty());
  EXPECT_FALSE(ParseDeleteResult(B("<DeleteResult>")));
}

TEST(QueryXmlTest, SnsPublishAndErrorResponse) {
  auto id = ParseSnsPublish(B(kPublish));
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "567910cd-659e-55d4-8ccb-5aaf14679dc0");
  EXPECT_EQ(ParseSnsPublish(B("<PublishResponse/>")).error().code,
            ErrorCode::kCorruption);
  auto e = ParseQueryError(B(kQueryError));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "NotFound");
  EXPECT_EQ(e->message, "Topic does not exist & never did");
  EXPECT_FALSE(ParseQueryError(B("<html/>")));
  EXPECT_FALSE(ParseQueryError({}));
}

TEST(QueryXmlTest, StsAssumeRoleWithWebIdentity) {
  auto c = ParseAssumeRoleWithWebIdentity(B(kSts));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key_id, "ASgeIAIOSFODNN7EXAMPLE");
  EXPECT_EQ(c->secret_access_key, "wJalrXUtnFEMI/K7MDENG");
  EXPECT_EQ(c->session_token, "FQoGZXIvYXdzE");
  EXPECT_EQ(c->expiration, "2024-10-24T23:00:23Z");
  EXPECT_FALSE(ParseAssumeRoleWithWebIdentity(B(kQueryError)));
}

TEST(S3ErrorsTest, StatusAndCodeDecideTheErrorCode) {
  auto code = [](long status, const char* text) {
    S3ErrorBody b;
    b.code_text = text;
    b.code = ParseS3Code(text);
    return S3Error(status, b, "GET", "s3:bkt/k").code;
  };
  EXPECT_EQ(code(404, "NoSuchKey"), ErrorCode::kNotFound);
  EXPECT_EQ(code(404, "NoSuchUpload"), ErrorCode::kNotFound);
  EXPECT_EQ(code(404, ""), ErrorCode::kNotFound);
  EXPECT_EQ(code(404, "NoSuchBucket"), ErrorCode::kNoRepository);
  EXPECT_EQ(code(403, "AccessDenied"), ErrorCode::kPermission);
  EXPECT_EQ(code(403, "InvalidObjectState"), ErrorCode::kIo);
  EXPECT_EQ(code(412, ""), ErrorCode::kAlreadyExists);
  EXPECT_EQ(code(416, ""), ErrorCode::kCorruption);
  EXPECT_EQ(code(501, ""), ErrorCode::kUnsupported);
  EXPECT_EQ(code(503, "SlowDown"), ErrorCode::kTransient);
  EXPECT_EQ(code(500, ""), ErrorCode::kTransient);
  EXPECT_EQ(code(429, ""), ErrorCode::kTransient);
  EXPECT_EQ(code(400, "RequestTimeout"), ErrorCode::kTransient);
  EXPECT_EQ(code(409, "OperationAborted"), ErrorCode::kTransient);
  EXPECT_EQ(code(400, "ExpiredToken"), ErrorCode::kPermission);
  EXPECT_EQ(code(400, "BadDigest"), ErrorCode::kIo);
  EXPECT_EQ(code(400, "InvalidArgument"), ErrorCode::kIo);
  EXPECT_EQ(code(409, "BucketAlreadyOwnedByYou"), ErrorCode::kIo);
  EXPECT_FALSE(IsRetryable(400, S3Code::kOther));
  EXPECT_FALSE(IsRetryable(501, S3Code::kNone));
  EXPECT_TRUE(IsRetryable(409, S3Code::kConditionalRequestConflict));

  S3ErrorBody b{S3Code::kNoSuchKey, "NoSuchKey", "two\nlines"};
  Error e = S3Error(404, b, "GET", "s3:bkt/k");
  EXPECT_EQ(e.message,
            "s3:bkt/k: not found (GET, HTTP 404 NoSuchKey: two lines)");
}

TEST(HttpHeadersTest, ContentRange) {
  auto r = ParseContentRange("bytes 5-7/10");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 5u);
  EXPECT_EQ(r->last, 7u);
  EXPECT_EQ(r->total, 10u);
  for (const char* bad : {"", "bytes 5-7", "bytes -1-7/10", "bytes 7-5/10",
                          "bytes 5-10/10", "bytes 5-7/x", "items 5-7/10",
                          "bytes 5-7/99999999999999999999", "bytes */10"})
    EXPECT_FALSE(ParseContentRange(bad)) << bad;
}

}  // namespace
}  // namespace efs2s3::aws
