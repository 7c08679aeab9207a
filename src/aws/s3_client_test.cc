// S3 client behaviour against a local fake server (testing/fake_aws.py):
// retries, error mapping, headers, multipart abort and addressing.
#include "aws/s3_client.h"

#include <gtest/gtest.h>

#include <map>

#include "aws/multipart.h"
#include "aws/testing/fake_aws.h"

namespace efs2s3::aws {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

const std::string kSecret = "s3cr3t-never-printed-0123456789";

// The answer to a HEAD of a 4-byte object stored with this sha256 metadata.
json HeadWithSha256(const std::string& sha) {
  return json{{"status", 200},
              {"headers",
               {{"ETag", "\"etag\""},
                {"Content-Length", "4"},
                {"x-amz-meta-sha256", sha}}}};
}

class CountingCredentials : public CredentialsProvider {
 public:
  Result<Credentials> Get() override {
    ++gets;
    return Credentials{"AKIDTEST", kSecret, token, std::nullopt, "test"};
  }
  void Invalidate() override { ++invalidations; }
  int gets = 0;
  int invalidations = 0;
  std::string token = "session-token-1";
};

class S3ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake_.ok()) << "could not start fake_aws.py with python3";
    S3Config c;
    c.endpoint = fake_.url();
    c.region = "eu-west-1";
    c.retry.max_attempts = 4;
    c.retry.base_delay = milliseconds(100);
    c.retry.sleep = [this](milliseconds d) { sleeps_.push_back(d); };
    auto creds = std::make_unique<CountingCredentials>();
    creds_ = creds.get();
    client_ = std::make_unique<S3Client>(c, std::move(creds));
  }

  // Every message must be free of the secret and of raw XML.
  static void ExpectClean(const Error& e) {
    EXPECT_EQ(e.message.find(kSecret), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find('<'), std::string::npos) << e.message;
  }

  testing::FakeAws fake_;
  std::unique_ptr<S3Client> client_;
  CountingCredentials* creds_ = nullptr;
  std::vector<milliseconds> sleeps_;
};

TEST_F(S3ClientTest, PutSendsDigestsSignatureAndOptions) {
  // Given a create-only PUT with storage class and SSE-KMS, then the request
  // carries Content-MD5, the payload SHA-256, the conditional, the options and
  // a signature over them, and the session token; the secret is in no header.
  PutOptions o;
  o.create_only = true;
  o.storage_class = "GLACIER_IR";
  o.sse = "aws:kms";
  o.sse_kms_key_id = "arn:aws:kms:eu-west-1:1:key/k";
  ASSERT_TRUE(
      client_->PutObject("bkt", "repo/data/ab/abcd", AsBytes("hello"), o));
  json log = fake_.Log();
  ASSERT_EQ(log.size(), 1u);
  const json& h = log[0]["headers"];
  EXPECT_EQ(log[0]["method"], "PUT");
  EXPECT_EQ(log[0]["path"], "/bkt/repo/data/ab/abcd");
  EXPECT_EQ(h["content-md5"], "XUFAKrxLKna5cZ2REBfFkg==");
  EXPECT_EQ(h["x-amz-content-sha256"], Sha256Hex(AsBytes("hello")));
  EXPECT_EQ(h["if-none-match"], "*");
  EXPECT_EQ(h["x-amz-storage-class"], "GLACIER_IR");
  EXPECT_EQ(h["x-amz-server-side-encryption"], "aws:kms");
  EXPECT_EQ(h["x-amz-server-side-encryption-aws-kms-key-id"],
            "arn:aws:kms:eu-west-1:1:key/k");
  EXPECT_EQ(h["x-amz-security-token"], "session-token-1");
  EXPECT_EQ(h.count("expect"), 0u);
  std::string authz = h["authorization"];
  EXPECT_EQ(authz.rfind("AWS4-HMAC-SHA256 Credential=AKIDTEST/", 0), 0u)
      << authz;
  EXPECT_NE(authz.find("/eu-west-1/s3/aws4_request"), std::string::npos);
  EXPECT_NE(authz.find("content-md5;content-type;host;if-none-match;x-amz-"
                       "content-sha256;x-amz-date;"
                       "x-amz-security-token;x-amz-server-side-encryption"),
            std::string::npos)
      << authz;
  EXPECT_EQ(log.dump().find(kSecret), std::string::npos);
}

TEST_F(S3ClientTest, KnownPayloadHashIsSignedWithoutMd5) {
  // Given a PUT with the body's SHA-256 supplied, then that hash is signed as
  // the payload hash and kept as metadata, and no Content-MD5 is sent.
  PutOptions o;
  o.payload_sha256 = Sha256Hex(AsBytes("hello"));
  ASSERT_TRUE(client_->PutObject("bkt", "data/ab", AsBytes("hello"), o));
  json log = fake_.Log();
  ASSERT_EQ(log.size(), 1u);
  const json& h = log[0]["headers"];
  EXPECT_EQ(h["x-amz-content-sha256"], o.payload_sha256);
  EXPECT_EQ(h["x-amz-meta-sha256"], o.payload_sha256);
  EXPECT_EQ(h.count("content-md5"), 0u);
}

TEST_F(S3ClientTest, ObjectLockPutsCarryRetentionAndAnIntegrityHeader) {
  // Given PUTs with an Object Lock retention, then each carries the mode and
  // the date, and an integrity header as AWS requires: Content-MD5, or the
  // known SHA-256 as x-amz-checksum-sha256 (base64 of the raw digest).
  PutOptions o;
  o.lock_mode = std::string(kLockCompliance);
  o.lock_retain_until = FormatRetainUntil(1767225600);  // 2026-01-01
  EXPECT_EQ(o.lock_retain_until, "2026-01-01T00:00:00.000Z");
  ASSERT_TRUE(client_->PutObject("bkt", "snapshots/a", AsBytes("hello"), o));
  o.payload_sha256 = Sha256Hex(AsBytes("hello"));
  ASSERT_TRUE(client_->PutObject("bkt", "data/ab", AsBytes("hello"), o));
  json log = fake_.Log();
  ASSERT_EQ(log.size(), 2u);
  for (const json& e : log) {
    EXPECT_EQ(e["headers"]["x-amz-object-lock-mode"], "COMPLIANCE");
    EXPECT_EQ(e["headers"]["x-amz-object-lock-retain-until-date"],
              "2026-01-01T00:00:00.000Z");
  }
  EXPECT_EQ(log[0]["headers"].count("content-md5"), 1u);
  EXPECT_EQ(log[1]["headers"].count("content-md5"), 0u);
  EXPECT_EQ(log[1]["headers"]["x-amz-checksum-sha256"],
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
}

TEST_F(S3ClientTest, ObjectLockBucketCallsAndRetention) {
  // Given a bucket created with Object Lock, then the create carries the
  // header; the lock configuration is read (and its absence, a 404
  // ObjectLockConfigurationNotFoundError, is "not enabled"); a retention is
  // put with Content-MD5; a version is deleted by its ID.
  fake_.Script(
      {{{"status", 200}},
       {{"status", 200},
        {"body",
         "<ObjectLockConfiguration><ObjectLockEnabled>Enabled"
         "</ObjectLockEnabled></ObjectLockConfiguration>"}},
       {{"status", 404},
        {"body",
         "<Error><Code>ObjectLockConfigurationNotFoundError</Code></Error>"}},
       {{"status", 200}},
       {{"status", 204}}});
  ASSERT_TRUE(client_->CreateBucket("bkt", true));
  auto on = client_->BucketObjectLockEnabled("bkt");
  ASSERT_TRUE(on) << on.error().message;
  EXPECT_TRUE(*on);
  auto off = client_->BucketObjectLockEnabled("bkt2");
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_FALSE(*off);
  ASSERT_TRUE(client_->PutObjectRetention("bkt", "data/ab", kLockGovernance,
                                          1767225600));
  ASSERT_TRUE(client_->DeleteObjectVersion("bkt", "data/ab", "v1"));
  json log = fake_.Log();
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[0]["headers"]["x-amz-bucket-object-lock-enabled"], "true");
  EXPECT_EQ(log[1]["path"], "/bkt?object-lock=");
  EXPECT_EQ(log[3]["method"], "PUT");
  EXPECT_EQ(log[3]["path"], "/bkt/data/ab?retention=");
  EXPECT_EQ(log[3]["headers"].count("content-md5"), 1u);
  EXPECT_EQ(log[3]["body_size"],
            RetentionBody("GOVERNANCE", "2026-01-01T00:00:00.000Z").size());
  EXPECT_EQ(log[4]["method"], "DELETE");
  EXPECT_EQ(log[4]["path"], "/bkt/data/ab?versionId=v1");
}

TEST_F(S3ClientTest, RetriesServerErrorsThenSucceeds) {
  // Given two 503s, then the PUT is re-sent whole and succeeds on the third
  // attempt, with growing backoff between attempts.
  fake_.Script(
      {{{"status", 503}, {"body", "<Error><Code>SlowDown</Code></Error>"}},
       {{"status", 500}}});
  ASSERT_TRUE(client_->PutObject("bkt", "k", AsBytes("payload"), {}));
  json log = fake_.Log();
  ASSERT_EQ(log.size(), 3u);
  for (const json& r : log) {
    EXPECT_EQ(r["body_size"], 7);
    EXPECT_EQ(r["headers"]["content-md5"], ContentMd5(AsBytes("payload")));
  }
  ASSERT_EQ(sleeps_.size(), 2u);
  EXPECT_LE(sleeps_[0], milliseconds(100));
  EXPECT_LE(sleeps_[1], milliseconds(200));
  EXPECT_GE(sleeps_[0], milliseconds(10));
}

TEST_F(S3ClientTest, RetriesThrottlingTimeoutsResetsAndShortBodies) {
  // Given 429, 400 RequestTimeout, a reset connection and a truncated body,
  // then each is retried and the GET returns the full object.
  fake_.Script({{{"status", 429}},
                {{"status", 400},
                 {"body", "<Error><Code>RequestTimeout</Code></Error>"}},
                {{"reset", true}},
                {{"status", 200}, {"body", "0123456789"}, {"truncate", true}},
                {{"status", 200}, {"body", "0123456789"}}});
  S3Config c = client_->config();
  c.retry.max_attempts = 6;
  S3Client client(c, NewStaticCredentials({"AKIDTEST", kSecret, "", {}, "t"}));
  auto r = client.GetObject("bkt", "k");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, ToBytes("0123456789"));
  EXPECT_EQ(fake_.Log().size(), 5u);
}

TEST_F(S3ClientTest, NeverRetriesOtherClientErrors) {
  // Given 403, 400 and 404 answers, then each is final after one request and
  // mapped.
  fake_.Script(
      {{{"status", 403},
        {"body",
         "<Error><Code>AccessDenied</Code><Message>no</Message></Error>"}},
       {{"status", 400},
        {"body", "<Error><Code>InvalidArgument</Code></Error>"}},
       {{"status", 404}, {"body", "<Error><Code>NoSuchKey</Code></Error>"}},
       {{"status", 404}, {"body", "<Error><Code>NoSuchBucket</Code></Error>"}},
       {{"status", 403},
        {"body", "<Error><Code>SignatureDoesNotMatch</Code></Error>"}}});
  auto denied = client_->GetObject("bkt", "a");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, ErrorCode::kPermission);
  EXPECT_NE(denied.error().message.find("s3:bkt/a"), std::string::npos);
  ExpectClean(denied.error());
  auto bad = client_->GetObject("bkt", "b");
  EXPECT_EQ(bad.error().code, ErrorCode::kIo);
  auto missing = client_->GetObject("bkt", "c");
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto no_bucket = client_->GetObject("bkt", "d");
  EXPECT_EQ(no_bucket.error().code, ErrorCode::kNoRepository);
  auto sig = client_->PutObject("bkt", "e", AsBytes("x"), {});
  ASSERT_FALSE(sig);
  EXPECT_EQ(sig.error().code, ErrorCode::kPermission);
  EXPECT_NE(sig.error().message.find("secret access key"), std::string::npos);
  ExpectClean(sig.error());
  fake_.Script({{{"status", 403},
                 {"body", "<Error><Code>InvalidObjectState</Code></Error>"}}});
  auto archived = client_->GetObject("bkt", "f");
  ASSERT_FALSE(archived);
  EXPECT_NE(archived.error().message.find("archive storage class"),
            std::string::npos);
  EXPECT_EQ(fake_.Log().size(), 6u);
  EXPECT_TRUE(sleeps_.empty());
  // The PUT answered with an error before its body was surely read: not reused.
  EXPECT_EQ(client_->http().dropped_connections(), 1);
}

TEST_F(S3ClientTest, ConnectionsPersistAndAreDroppedAfterErrors) {
  // Given sequential requests, then they share one connection; given an error
  // answer to a request with a body, then that connection is closed and the
  // next one is new.
  fake_.Script(
      {json::object(),
       json::object(),
       json::object(),
       {{"status", 400}, {"body", "<Error><Code>BadDigest</Code></Error>"}}});
  ASSERT_TRUE(client_->GetObject("bkt", "a"));
  ASSERT_TRUE(client_->GetObject("bkt", "b"));
  ASSERT_TRUE(client_->PutObject("bkt", "c", AsBytes("x"), {}));
  ASSERT_FALSE(client_->PutObject("bkt", "d", AsBytes("y"), {}));
  ASSERT_TRUE(client_->GetObject("bkt", "e"));
  json log = fake_.Log();
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[0]["client_port"], log[1]["client_port"]);
  EXPECT_EQ(log[0]["client_port"], log[2]["client_port"]);
  EXPECT_EQ(log[0]["client_port"], log[3]["client_port"]);
  EXPECT_NE(log[3]["client_port"], log[4]["client_port"]);
  EXPECT_EQ(client_->http().dropped_connections(), 1);
}

TEST_F(S3ClientTest, GivesUpAfterMaxAttempts) {
  fake_.Script(json::array({{{"status", 500}},
                            {{"status", 502}},
                            {{"status", 503}},
                            {{"status", 504}},
                            {{"status", 200}}}));
  auto r = client_->DeleteObject("bkt", "k");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTransient);
  EXPECT_NE(r.error().message.find("gave up after 4 attempts"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(fake_.Log().size(), 4u);
}

TEST_F(S3ClientTest, AfterGivingUpLaterRequestsTryOnceUntilAnAnswer) {
  // Given a request that gave up after all its attempts, then the next ones
  // make one attempt each (a failed command's clean-up does not spend the
  // budget again); once the endpoint answers, the full budget is back.
  fake_.Script(json::array({{{"status", 503}},
                            {{"status", 503}},
                            {{"status", 503}},
                            {{"status", 503}},
                            {{"status", 503}},
                            {{"status", 200}},
                            {{"status", 503}},
                            {{"status", 503}},
                            {{"status", 503}},
                            {{"status", 503}}}));
  ASSERT_FALSE(client_->DeleteObject("bkt", "a"));
  EXPECT_EQ(fake_.Log().size(), 4u);
  auto once = client_->DeleteObject("bkt", "lock");
  ASSERT_FALSE(once);
  EXPECT_EQ(once.error().message.find("gave up"), std::string::npos)
      << once.error().message;
  EXPECT_EQ(fake_.Log().size(), 5u);
  ASSERT_TRUE(client_->DeleteObject("bkt", "b"));
  EXPECT_EQ(fake_.Log().size(), 6u);
  ASSERT_FALSE(client_->DeleteObject("bkt", "c"));
  EXPECT_EQ(fake_.Log().size(), 10u);
}

TEST_F(S3ClientTest, ExpiredTokenRefreshesCredentials) {
  // Given an ExpiredToken answer (or a bare 400 to a HEAD with a session
  // token), then credentials are fetched again and the request retried once.
  fake_.Script({{{"status", 400},
                 {"body", "<Error><Code>ExpiredToken</Code></Error>"}}});
  ASSERT_TRUE(client_->GetObject("bkt", "k"));
  EXPECT_EQ(creds_->invalidations, 1);
  EXPECT_EQ(creds_->gets, 2);
  fake_.Script({{{"status", 400}}});
  ASSERT_TRUE(client_->HeadBucket("bkt"));
  EXPECT_EQ(creds_->invalidations, 2);
  // Not forever: a second ExpiredToken in a row is final.
  fake_.Script(
      {{{"status", 400}, {"body", "<Error><Code>ExpiredToken</Code></Error>"}},
       {{"status", 400},
        {"body", "<Error><Code>ExpiredToken</Code></Error>"}}});
  auto r = client_->GetObject("bkt", "k");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermission);
}

TEST_F(S3ClientTest, CreateOnlyRetryRecognisesItsOwnWrite) {
  // Given a create-only PUT whose first answer is lost, when the retry meets
  // 412, then the object's ETag shows it is our write and the save succeeds.
  fake_.Script({{{"reset", true}},
                {{"status", 412}},
                {{"status", 200},
                 {"headers",
                  {{"ETag", "\"" + Md5Hex(AsBytes("lock")) + "\""},
                   {"Content-Length", "4"}}}}});
  PutOptions o;
  o.create_only = true;
  auto r = client_->PutObject("bkt", "locks/x", AsBytes("lock"), o);
  ASSERT_TRUE(r) << r.error().message;
  // Another object under the name, seen twice, is "already exists".
  json other = {{"status", 200},
                {"headers",
                 {{"ETag", "\"" + Md5Hex(AsBytes("kcol")) + "\""},
                  {"Content-Length", "4"}}}};
  fake_.Script({{{"status", 412}}, other, {{"status", 412}}, other});
  auto again = client_->PutObject("bkt", "locks/x", AsBytes("lock"), o);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
}

TEST_F(S3ClientTest, CreateOnly412WithoutVisibleRetryIsSettledByTheObject) {
  // Given a create-only PUT answered 412 at its first attempt as this client
  // sees it (libcurl re-sends a request by itself when a reused connection
  // was reset or stalled, so the first write's answer was lost unseen), then
  // the stored object decides: our bytes are a success, others' are "already
  // exists".
  PutOptions o;
  o.create_only = true;
  fake_.Script({{{"status", 412}},
                {{"status", 200},
                 {"headers",
                  {{"ETag", "\"" + Md5Hex(AsBytes("snap")) + "\""},
                   {"Content-Length", "4"}}}}});
  auto r = client_->PutObject("bkt", "snapshots/x", AsBytes("snap"), o);
  ASSERT_TRUE(r) << r.error().message;
  json log = fake_.Log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1]["method"], "HEAD");

  o.payload_sha256 = Sha256Hex(AsBytes("snap"));
  fake_.Script({{{"status", 412}}, HeadWithSha256(o.payload_sha256)});
  auto known = client_->PutObject("bkt", "snapshots/y", AsBytes("snap"), o);
  ASSERT_TRUE(known) << known.error().message;
  fake_.Script({{{"status", 412}},
                HeadWithSha256(Sha256Hex(AsBytes("pans"))),
                {{"status", 412}},
                HeadWithSha256(Sha256Hex(AsBytes("pans")))});
  auto other = client_->PutObject("bkt", "snapshots/y", AsBytes("snap"), o);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kAlreadyExists);
}

TEST_F(S3ClientTest, CreateOnlyRetryWithKnownHashChecksItsMetadata) {
  // Given a create-only PUT with its SHA-256 supplied (no MD5, so no ETag to
  // compare) whose first answer is lost, when the retry meets 412, then the
  // object's sha256 metadata decides: ours succeeds, another's is "already
  // exists".
  PutOptions o;
  o.create_only = true;
  o.payload_sha256 = Sha256Hex(AsBytes("lock"));
  // A 503 may follow a write that happened: the answer is "lost" either way.
  fake_.Script(
      {{{"status", 503}}, {{"status", 412}}, HeadWithSha256(o.payload_sha256)});
  auto r = client_->PutObject("bkt", "locks/x", AsBytes("lock"), o);
  ASSERT_TRUE(r) << r.error().message;
  fake_.Script({{{"status", 503}},
                {{"status", 412}},
                HeadWithSha256(Sha256Hex(AsBytes("kcol"))),
                {{"status", 412}},
                HeadWithSha256(Sha256Hex(AsBytes("kcol")))});
  auto other = client_->PutObject("bkt", "locks/x", AsBytes("lock"), o);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(fake_.Log().back()["method"], "HEAD");  // the metadata was asked
}

// The methods of the requests logged from index `from` on.
std::vector<std::string> MethodsSince(const json& log, size_t from) {
  std::vector<std::string> methods;
  for (size_t i = from; i < log.size(); ++i)
    methods.push_back(log[i]["method"]);
  return methods;
}

TEST_F(S3ClientTest, CreateOnly412WithNoObjectIsSentAgain) {
  // Given a create-only PUT answered 412 when the HEAD that settles it finds
  // no object (the server checked against a write still in progress, or one
  // that failed after the check), then the PUT is sent again after a backoff
  // instead of failing with "already exists": it meets our finished write, or
  // creates the object itself.
  PutOptions o;
  o.create_only = true;
  json ours = {{"status", 200},
               {"headers",
                {{"ETag", "\"" + Md5Hex(AsBytes("snap")) + "\""},
                 {"Content-Length", "4"}}}};
  fake_.Script({{{"status", 412}}, {{"status", 404}}, {{"status", 412}}, ours});
  auto r = client_->PutObject("bkt", "snapshots/a", AsBytes("snap"), o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(MethodsSince(fake_.Log(), 0),
            (std::vector<std::string>{"PUT", "HEAD", "PUT", "HEAD"}));
  EXPECT_EQ(sleeps_.size(), 1u);

  size_t before = fake_.Log().size();
  fake_.Script({{{"status", 412}}, {{"status", 404}}, {{"status", 200}}});
  auto created = client_->PutObject("bkt", "snapshots/b", AsBytes("snap"), o);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(MethodsSince(fake_.Log(), before),
            (std::vector<std::string>{"PUT", "HEAD", "PUT"}));
}

TEST_F(S3ClientTest, CreateOnly412WithAnotherObjectSettlingIsSentAgain) {
  // Given a create-only PUT answered 412 whose HEAD finds another object that
  // the next look no longer finds, then that object was not settled: the PUT
  // is sent again and the object it meets then (ours) decides.
  PutOptions o;
  o.create_only = true;
  o.payload_sha256 = Sha256Hex(AsBytes("lock"));
  json passing = HeadWithSha256(Sha256Hex(AsBytes("kcol")));
  passing["headers"]["ETag"] = "\"passing\"";
  fake_.Script({{{"status", 412}},
                passing,
                {{"status", 412}},
                HeadWithSha256(o.payload_sha256)});
  auto r = client_->PutObject("bkt", "locks/a", AsBytes("lock"), o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(MethodsSince(fake_.Log(), 0),
            (std::vector<std::string>{"PUT", "HEAD", "PUT", "HEAD"}));
}

TEST_F(S3ClientTest, CreateOnly412WithNoObjectGivesUpWithinTheBudget) {
  // Given a create-only PUT that meets 412 and no object at every attempt,
  // then it gives up after the retry budget (4 PUTs here) with a transient
  // error that says so, not "already exists".
  PutOptions o;
  o.create_only = true;
  json script = json::array();
  for (int i = 0; i < 4; ++i) {
    script.push_back({{"status", 412}});
    script.push_back({{"status", 404}});
  }
  fake_.Script(script);
  auto r = client_->PutObject("bkt", "snapshots/c", AsBytes("snap"), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kTransient) << r.error().message;
  EXPECT_NE(r.error().message.find("no object"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(MethodsSince(fake_.Log(), 0),
            (std::vector<std::string>{"PUT", "HEAD", "PUT", "HEAD", "PUT",
                                      "HEAD", "PUT", "HEAD"}));
  ExpectClean(r.error());
}

TEST_F(S3ClientTest, RangedGetChecksLengths) {
  // Given a 206 whose Content-Range shows the object ends early, then
  // kCorruption (permanent); given a body shorter than announced, a retry.
  fake_.Script({{{"status", 206},
                 {"body", "56789"},
                 {"headers", {{"Content-Range", "bytes 5-9/10"}}}}});
  auto past = client_->GetObject("bkt", "k", 5, 10);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code, ErrorCode::kCorruption);
  json log = fake_.Log();
  EXPECT_EQ(log.back()["headers"]["range"], "bytes=5-14");
  fake_.Script({{{"status", 206},
                 {"body", "56"},
                 {"headers", {{"Content-Range", "bytes 5-7/10"}}}},
                {{"status", 206},
                 {"body", "567"},
                 {"headers", {{"Content-Range", "bytes 5-7/10"}}}}});
  auto ok = client_->GetObject("bkt", "k", 5, 3);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(*ok, ToBytes("567"));
}

TEST_F(S3ClientTest, FailedMultipartUploadIsAborted) {
  // Given a part upload that is refused, then the upload is aborted.
  fake_.Script({{{"body",
                  "<InitiateMultipartUploadResult><UploadId>U1</UploadId>"
                  "</InitiateMultipartUploadResult>"}},
                {{"status", 403}}});
  Bytes data(6u << 20, 7);
  auto r = UploadMultipart(*client_, "bkt", "big", SpanSource(data), {},
                           {5u << 20, 1});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermission);
  EXPECT_NE(r.error().message.find("part 1"), std::string::npos)
      << r.error().message;
  json log = fake_.Log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0]["path"], "/bkt/big?uploads=");
  EXPECT_EQ(log[1]["path"], "/bkt/big?partNumber=1&uploadId=U1");
  EXPECT_EQ(log[2]["method"], "DELETE");
  EXPECT_EQ(log[2]["path"], "/bkt/big?uploadId=U1");
}

TEST_F(S3ClientTest, MultipartUploadSendsAllPartsAndCompletes) {
  fake_.Script({{{"body",
                  "<InitiateMultipartUploadResult><UploadId>U2</UploadId>"
                  "</InitiateMultipartUploadResult>"}}});
  Bytes data((11u << 20) + 3, 1);
  // The fake answers parts without an ETag header; answer them with the right
  // ones.
  Bytes part(5u << 20, 1), last(((11u << 20) + 3) - (10u << 20), 1);
  json answers = json::array();
  answers.push_back({{"headers", {{"ETag", "\"" + Md5Hex(part) + "\""}}}});
  answers.push_back({{"headers", {{"ETag", "\"" + Md5Hex(part) + "\""}}}});
  answers.push_back({{"headers", {{"ETag", "\"" + Md5Hex(last) + "\""}}}});
  fake_.Script(answers);
  auto r = UploadMultipart(*client_, "bkt", "big", SpanSource(data), {},
                           {5u << 20, 1});
  ASSERT_TRUE(r) << r.error().message;
  json log = fake_.Log();
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[3]["body_size"], 1u << 20 | 3);
  EXPECT_EQ(log[4]["path"], "/bkt/big?uploadId=U2");
  EXPECT_EQ(log[4]["method"], "POST");
}

TEST_F(S3ClientTest, BufferedMultipartReadsInOrderAndHonoursCancel) {
  // Given buffered parts (as sync sends a file), then every byte reaches
  // on_read in order and each stored part is reported (one part at a time:
  // the fake answers in the order it is asked).
  fake_.Script({{{"body",
                  "<InitiateMultipartUploadResult><UploadId>U3</UploadId>"
                  "</InitiateMultipartUploadResult>"}}});
  Bytes data((10u << 20) + 7);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = static_cast<std::uint8_t>(i * 31);
  const ByteSpan all(data);
  Bytes first(all.begin(), all.begin() + (5u << 20)),
      second(all.begin() + (5u << 20), all.begin() + (10u << 20)),
      third(all.begin() + (10u << 20), all.end());
  json answers = json::array();
  for (const Bytes* p : {&first, &second, &third})
    answers.push_back({{"headers", {{"ETag", "\"" + Md5Hex(*p) + "\""}}}});
  fake_.Script(answers);
  Md5 md5;
  std::atomic<std::uint64_t> stored{0};
  MultipartHooks hooks;
  hooks.buffer_parts = true;
  hooks.on_read = [&](ByteSpan b) { md5.Update(b); };
  hooks.on_part_done = [&](std::uint64_t n) { stored += n; };
  auto r = UploadMultipart(*client_, "bkt", "big", SpanSource(data), {},
                           {5u << 20, 1}, hooks);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(md5.Hex(), Md5Hex(data));
  EXPECT_EQ(stored.load(), data.size());
  json log = fake_.Log();
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[4]["method"], "POST");

  // Given a cancel before the first part, then the upload is aborted.
  fake_.Script({{{"body",
                  "<InitiateMultipartUploadResult><UploadId>U4</UploadId>"
                  "</InitiateMultipartUploadResult>"}}});
  hooks.cancelled = [] { return true; };
  auto c = UploadMultipart(*client_, "bkt", "big", SpanSource(data), {},
                           {5u << 20, 2}, hooks);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kCancelled);
  log = fake_.Log();
  EXPECT_EQ(log.back()["method"], "DELETE");
  EXPECT_EQ(log.back()["path"], "/bkt/big?uploadId=U4");
}

TEST_F(S3ClientTest, ListingThatDoesNotParseIsRetried) {
  // Given a listing answer cut or damaged into something that is no
  // ListBucketResult, then it is asked for again, like a truncated body.
  fake_.Script(
      {{{"status", 200}, {"body", "<ListBucketResult><Contents><Key>a"}},
       {{"status", 200},
        {"body",
         "<ListBucketResult><IsTruncated>false</IsTruncated><Contents>"
         "<Key>keys/a</Key><Size>3</Size></Contents></ListBucketResult>"}}});
  std::vector<std::string> keys;
  auto r = client_->ListObjects("bkt", "keys/",
                                [&](const ListedObject& o) -> Result<void> {
                                  keys.push_back(o.key);
                                  return Ok();
                                });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(keys, std::vector<std::string>{"keys/a"});
  EXPECT_EQ(fake_.Log().size(), 2u);
}

TEST_F(S3ClientTest, AnEndpointThatIsNotS3IsNamedAtOnce) {
  // Given an HTML server (a web server, a captive portal) as the endpoint,
  // then its answers, with or without a body and whatever the status, are
  // "does not answer like S3", naming the endpoint, after one request each.
  json html = {{"Content-Type", "text/html; charset=utf-8"}};
  fake_.Script({{{"status", 404}, {"headers", html}, {"body", "<html>no"}},
                {{"status", 404}, {"headers", html}},
                {{"status", 200}, {"headers", html}, {"body", "<html>"}},
                {{"status", 501}, {"body", "Unsupported method ('PUT')"}}});
  auto list = client_->ListObjects(
      "bkt", "keys/", [](const ListedObject&) -> Result<void> { return Ok(); });
  auto head = client_->HeadBucket("bkt");
  auto get = client_->GetObject("bkt", "config");
  auto put = client_->PutObject("bkt", "keys/k", AsBytes("x"), {});
  for (const Result<void>& r :
       {list, head, Result<void>(get ? Ok() : Result<void>(get.error())),
        Result<void>(put ? Ok() : Result<void>(put.error()))}) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kIo) << r.error().message;
    EXPECT_NE(r.error().message.find(fake_.url() +
                                     ": the endpoint does not answer like S3"),
              std::string::npos)
        << r.error().message;
    ExpectClean(r.error());
  }
  EXPECT_EQ(fake_.Log().size(), 4u);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(S3ClientTest, AnEmptyHtmlAnswerTaggedWithARequestIdIsS3) {
  // Given an S3 imitation (moto) that labels an empty HEAD 404 text/html but
  // tags it with a request ID, and an HTML-labelled <Error> document, then
  // both are S3 answers: a missing bucket and a missing key, not "not S3".
  json html_tagged = {{"Content-Type", "text/html; charset=utf-8"},
                      {"x-amzn-RequestId", "r1"}};
  json html = {{"Content-Type", "text/html; charset=utf-8"}};
  fake_.Script(
      {{{"status", 404}, {"headers", html_tagged}},
       {{"status", 404},
        {"headers", html},
        {"body",
         "<Error><Code>NoSuchKey</Code><Message>m</Message></Error>"}}});
  auto head = client_->HeadBucket("bkt");
  ASSERT_FALSE(head);
  EXPECT_EQ(head.error().message.find("does not answer like S3"),
            std::string::npos)
      << head.error().message;
  auto get = client_->GetObject("bkt", "config");
  ASSERT_FALSE(get);
  EXPECT_EQ(get.error().code, ErrorCode::kNotFound) << get.error().message;
}

TEST_F(S3ClientTest, HeadBucketDeniedSaysWhy) {
  // Given a HEAD of the bucket denied (no body to say why), then a one-key
  // listing asks, and a wrong secret key is named as the likely cause.
  fake_.Script(
      {{{"status", 403}},
       {{"status", 403},
        {"body", "<Error><Code>SignatureDoesNotMatch</Code></Error>"}}});
  auto r = client_->HeadBucket("bkt");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermission);
  EXPECT_NE(r.error().message.find("is the secret access key right?"),
            std::string::npos)
      << r.error().message;
  json log = fake_.Log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1]["method"], "GET");
}

TEST_F(S3ClientTest, CreateBucketSendsTheRegionAsLocationConstraint) {
  // Given a client in eu-west-1 with a custom endpoint, then CreateBucket
  // carries the region as LocationConstraint; a server that does not know the
  // region (radosgw names its zonegroups otherwise) is asked again without.
  const std::string body = CreateBucketBody("eu-west-1");
  EXPECT_EQ(body,
            "<CreateBucketConfiguration><LocationConstraint>eu-west-1"
            "</LocationConstraint></CreateBucketConfiguration>");
  EXPECT_EQ(CreateBucketBody("us-east-1"), "");
  ASSERT_TRUE(client_->CreateBucket("bkt"));
  json log = fake_.Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["method"], "PUT");
  EXPECT_EQ(log[0]["path"], "/bkt");
  EXPECT_EQ(log[0]["body_size"], body.size());
  EXPECT_EQ(log[0]["headers"]["x-amz-content-sha256"],
            Sha256Hex(AsBytes(body)));

  fake_.Script(
      {{{"status", 400},
        {"body", "<Error><Code>InvalidLocationConstraint</Code></Error>"}}});
  ASSERT_TRUE(client_->CreateBucket("bkt2"));
  log = fake_.Log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[2]["body_size"], 0);
}

TEST(StallWatchTest, FiresAfterTheLimitWithoutProgressNotBefore) {
  // Given a 2 s limit, then bytes moving keep it quiet however long the
  // transfer, and it fires 2 s after the last byte moved (also when the last
  // bytes were a whole upload), not later.
  using Clock = StallWatch::Clock;
  const Clock::time_point t0{};
  StallWatch w(std::chrono::seconds(2), t0);
  EXPECT_FALSE(w.Stalled(0, t0 + std::chrono::milliseconds(1999)));
  EXPECT_FALSE(w.Stalled(100, t0 + std::chrono::seconds(1)));
  EXPECT_FALSE(w.Stalled(1 << 20, t0 + std::chrono::seconds(10)));
  EXPECT_FALSE(w.Stalled(1 << 20, t0 + std::chrono::milliseconds(11999)));
  EXPECT_TRUE(w.Stalled(1 << 20, t0 + std::chrono::seconds(12)));
  StallWatch idle(std::chrono::seconds(2), t0);
  EXPECT_TRUE(idle.Stalled(0, t0 + std::chrono::seconds(2)));
}

TEST(S3AddressingTest, PathAndVirtualHostUrls) {
  auto creds = [] { return NewStaticCredentials({"a", "b", "", {}, "t"}); };
  S3Config c;
  c.region = "eu-west-1";
  EXPECT_EQ(S3Client(c, creds()).ObjectUrl("bkt", "data/ab/c d"),
            "https://bkt.s3.eu-west-1.amazonaws.com/data/ab/c%20d");
  c.path_style = true;
  EXPECT_EQ(S3Client(c, creds()).ObjectUrl("bkt", "k"),
            "https://s3.eu-west-1.amazonaws.com/bkt/k");
  c.path_style = false;
  // Dotted buckets over TLS and IP endpoints fall back to path style.
  EXPECT_EQ(S3Client(c, creds()).ObjectUrl("my.bkt", "k"),
            "https://s3.eu-west-1.amazonaws.com/my.bkt/k");
  c.endpoint = "http://127.0.0.1:9000";
  EXPECT_EQ(S3Client(c, creds()).ObjectUrl("bkt", "k"),
            "http://127.0.0.1:9000/bkt/k");
  c.endpoint = "https://minio.example.com:443/base/";
  EXPECT_EQ(S3Client(c, creds()).ObjectUrl("bkt", "k"),
            "https://bkt.minio.example.com/base/k");
}

}  // namespace
}  // namespace efs2s3::aws
