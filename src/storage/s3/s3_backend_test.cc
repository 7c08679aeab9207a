// The storage conformance suite and S3-specific tests against a real S3 server.
//
// The server comes from the environment (scripts/radosgw.sh start prints it):
//   EFS2S3_TEST_S3_ENDPOINT  e.g. http://127.0.0.1:7480
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (or any source of the credentials
//   chain)
// Without it the tests skip, unless EFS2S3_TEST_DISALLOW_SKIP contains "S3",
// which makes them fail. Each test gets a fresh prefix in the bucket
// EFS2S3_TEST_S3_BUCKET (default "efs2s3-test"), created when missing.
//
// moto_server, when installed, is a second target for storage classes and SSE
// headers.
#include "storage/s3/s3_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <map>
#include <set>
#include <thread>

#include "aws/sigv4.h"
#include "base/file_util.h"
#include "storage/testing/backend_conformance.h"

extern char** environ;

namespace efs2s3::storage::s3 {
namespace {

// The S3 client under the backend.
using namespace efs2s3::aws;  // NOLINT(google-build-using-namespace)

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

bool SkipDisallowed() {
  return EnvOr("EFS2S3_TEST_DISALLOW_SKIP", "").find("S3") != std::string::npos;
}

std::string TestEndpoint() { return EnvOr("EFS2S3_TEST_S3_ENDPOINT", ""); }
std::string TestBucket() {
  return EnvOr("EFS2S3_TEST_S3_BUCKET", "efs2s3-test");
}

// Records a failure when no server is configured but skipping is disallowed.
bool ServerConfigured() {
  if (!TestEndpoint().empty()) return true;
  if (SkipDisallowed())
    ADD_FAILURE() << "EFS2S3_TEST_S3_ENDPOINT is not set but "
                     "EFS2S3_TEST_DISALLOW_SKIP=S3; "
                     "start a server with scripts/radosgw.sh start DIR";
  return false;
}

S3Options TestOptions() {
  S3Options o;
  o.endpoint = TestEndpoint();
  o.connections = 16;
  o.max_attempts = 4;
  return o;
}

std::string RandomPrefix() { return "t-" + HexEncode(RandomBytes(8)); }

// A backend on a fresh prefix of the test bucket; nullptr when not configured.
std::unique_ptr<Backend> FreshS3(S3Options opts = TestOptions()) {
  if (!ServerConfigured()) return nullptr;
  auto b = NewS3Backend({TestBucket(), RandomPrefix()}, opts);
  EXPECT_TRUE(b.has_value()) << b.error().message;
  if (!b) return nullptr;
  auto created = (*b)->Create();
  EXPECT_TRUE(created.has_value()) << created.error().message;
  return std::move(*b);
}

std::unique_ptr<Backend> FreshS3Default() { return FreshS3(); }

class S3ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ServerConfigured())
      GTEST_SKIP() << "EFS2S3_TEST_S3_ENDPOINT is not set";
  }
};

TEST_F(S3ServerTest, MultipartRoundTrip) {
  // Given a 5 MiB multipart threshold, when a 12.5 MiB pack is saved, then it
  // is uploaded in three parts and reads back whole and across part boundaries.
  S3Options o = TestOptions();
  o.multipart_threshold = 5u << 20;
  o.multipart_part_size = 5u << 20;
  o.multipart_parallel = 3;
  auto b = FreshS3(o);
  ASSERT_TRUE(b);
  Bytes data = RandomBytes((12u << 20) + (512u << 10));
  Handle h{ObjectType::kPack, HexEncode(RandomBytes(32))};
  auto saved = b->Save(h, data, {});
  ASSERT_TRUE(saved) << saved.error().message;
  auto st = b->Stat(h);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, data.size());
  auto all = b->Load(h);
  ASSERT_TRUE(all);
  EXPECT_TRUE(*all == data);
  auto cross = b->Load(h, (5u << 20) - 100, 200);
  ASSERT_TRUE(cross);
  EXPECT_EQ(*cross, Bytes(data.begin() + (5 << 20) - 100,
                          data.begin() + (5 << 20) + 100));
  // Create-only multipart onto an existing object is refused.
  auto again = b->Save(h, data, {.create_only = true});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
  // No upload is left behind.
  auto pending = AsS3Maintenance(*b)->ListIncompleteUploads();
  ASSERT_TRUE(pending) << pending.error().message;
  EXPECT_TRUE(pending->empty());
}

TEST_F(S3ServerTest, WrongSecretIsAClearPermissionError) {
  // Given a wrong secret key, then every request fails with kPermission naming
  // the object, saying what is wrong, and never echoing the secret.
  S3Config config = *ResolveS3Config(TestOptions(), ProcessEnv());
  const std::string secret = "definitely-not-the-right-secret-0123456789";
  auto client = std::make_shared<S3Client>(
      config, NewStaticCredentials(
                  {EnvOr("AWS_ACCESS_KEY_ID", "x"), secret, "", {}, "test"}));
  auto b = NewS3BackendWithClient(client, {TestBucket(), RandomPrefix()},
                                  TestOptions());
  Handle h{ObjectType::kSnapshot, HexEncode(RandomBytes(32))};
  auto r = b->Save(h, ToBytes("x"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermission) << r.error().message;
  EXPECT_NE(r.error().message.find(ObjectKey(h)), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("secret"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().message.find(secret), std::string::npos);
  EXPECT_EQ(r.error().message.find('<'), std::string::npos)
      << "no XML: " << r.error().message;
  auto l = b->Load(h);
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error().code, ErrorCode::kPermission) << l.error().message;
  // A HEAD answer has no body; the backend still says what is wrong.
  auto st = b->Stat(h);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kPermission);
  EXPECT_NE(st.error().message.find("secret"), std::string::npos)
      << st.error().message;
  EXPECT_EQ(client->http().options().max_in_flight, config.http.max_in_flight);
}

TEST_F(S3ServerTest, IfNoneMatchIsEnforcedByTheServer) {
  // Given an object, then a second create-only PUT gets 412 from the server,
  // reported as kAlreadyExists, and the first content stays.
  auto config = ResolveS3Config(TestOptions(), ProcessEnv());
  ASSERT_TRUE(config);
  S3Client client(*config, NewDefaultCredentialsChain());
  std::string key = RandomPrefix() + "/locks/x";
  ASSERT_TRUE(client.CreateBucket(TestBucket()));
  PutOptions create_only;
  create_only.create_only = true;
  ASSERT_TRUE(client.PutObject(TestBucket(), key, AsBytes("one"), create_only));
  auto r = client.PutObject(TestBucket(), key, AsBytes("two"), create_only);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kAlreadyExists) << r.error().message;
  EXPECT_NE(r.error().message.find("412"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(*client.GetObject(TestBucket(), key), ToBytes("one"));
}

TEST_F(S3ServerTest, KnownPayloadHashIsCheckedByTheServer) {
  // Given a PUT whose SHA-256 the caller supplies, then a body that matches is
  // stored with the hash as metadata, and one that does not (a spool file
  // damaged after it was hashed) is refused by the server and stores nothing.
  auto config = ResolveS3Config(TestOptions(), ProcessEnv());
  ASSERT_TRUE(config);
  S3Client client(*config, NewDefaultCredentialsChain());
  ASSERT_TRUE(client.CreateBucket(TestBucket()));
  std::string key = RandomPrefix() + "/data/p";
  PutOptions put;
  put.create_only = true;
  put.payload_sha256 = Sha256Hex(AsBytes("pack bytes"));
  auto bad = client.PutObject(TestBucket(), key, AsBytes("pack bytez"), put);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find(key), std::string::npos)
      << bad.error().message;
  EXPECT_EQ(client.HeadObject(TestBucket(), key).error().code,
            ErrorCode::kNotFound);
  ASSERT_TRUE(client.PutObject(TestBucket(), key, AsBytes("pack bytes"), put));
  auto head = client.HeadObject(TestBucket(), key);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->metadata["sha256"], put.payload_sha256);
  EXPECT_EQ(*client.GetObject(TestBucket(), key), ToBytes("pack bytes"));
}

TEST_F(S3ServerTest, MetadataListingOddKeysCopyAndRequestCounts) {
  // Given objects with user metadata and keys holding spaces, '+', '%', a tab
  // and multi-byte UTF-8, then HEAD returns the metadata, the listing returns
  // each key exactly (encoding-type=url) with its ETag, CopyObject keeps the
  // metadata, and the client counts the requests it sent.
  auto config = ResolveS3Config(TestOptions(), ProcessEnv());
  ASSERT_TRUE(config);
  S3Client client(*config, NewDefaultCredentialsChain());
  ASSERT_TRUE(client.CreateBucket(TestBucket()));
  std::string prefix = RandomPrefix() + "/";
  std::vector<std::string> names = {"a b+c%41", "tab\there",
                                    "\xc3\xa9t\xc3\xa9", "z/y"};
  PutOptions put;
  put.metadata = {{"mtime", "1700000000.123456789"}, {"mode", "100644"}};
  std::map<std::string, std::string> etags;
  for (const auto& n : names) {
    auto etag = client.PutObject(TestBucket(), prefix + n, AsBytes(n), put);
    ASSERT_TRUE(etag) << etag.error().message;
    EXPECT_EQ(*etag, Md5Hex(AsBytes(n)));
    etags[prefix + n] = *etag;
  }
  auto head = client.HeadObject(TestBucket(), prefix + names[0]);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->metadata["mtime"], "1700000000.123456789");
  EXPECT_EQ(head->metadata["mode"], "100644");
  EXPECT_FALSE(head->last_modified.empty());
  std::map<std::string, std::string> listed;
  ASSERT_TRUE(client.ListObjects(TestBucket(), prefix,
                                 [&](const ListedObject& o) -> Result<void> {
                                   listed[o.key] = o.etag;
                                   EXPECT_FALSE(o.last_modified.empty());
                                   return Ok();
                                 }));
  EXPECT_EQ(listed, etags);
  ASSERT_TRUE(client.CopyObject(TestBucket(), prefix + names[0], TestBucket(),
                                prefix + "copy/" + names[0], {}));
  auto copied = client.HeadObject(TestBucket(), prefix + "copy/" + names[0]);
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(copied->metadata["mtime"], "1700000000.123456789");
  RequestCounts n = client.request_counts();
  EXPECT_EQ(n.put, names.size() + 2);  // the bucket, the objects, the copy
  EXPECT_EQ(n.head, 2u);
  EXPECT_EQ(n.list, 1u);
}

TEST_F(S3ServerTest, ListPaginatesAndBatchDeleteRemovesAll) {
  // Given more objects than one listing page holds (a page of 7 here), then
  // List sees each once, and DeleteObjects removes them all.
  auto config = ResolveS3Config(TestOptions(), ProcessEnv());
  ASSERT_TRUE(config);
  config->list_page_size = 7;
  auto client =
      std::make_shared<S3Client>(*config, NewDefaultCredentialsChain());
  S3Location where{TestBucket(), RandomPrefix()};
  auto b = NewS3BackendWithClient(client, where, TestOptions());
  ASSERT_TRUE(b->Create());
  std::set<std::string> names;
  for (int i = 0; i < 30; ++i) names.insert(HexEncode(RandomBytes(32)));
  std::vector<std::thread> threads;
  std::vector<std::string> vnames(names.begin(), names.end());
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < vnames.size(); i += 6)
        EXPECT_TRUE(
            b->Save({ObjectType::kPack, vnames[i]}, ToBytes(vnames[i]), {}));
    });
  for (auto& th : threads) th.join();
  std::multiset<std::string> listed;
  ASSERT_TRUE(
      b->List(ObjectType::kPack, [&](const ObjectInfo& o) -> Result<void> {
        listed.insert(o.name);
        return Ok();
      }));
  EXPECT_EQ(listed.size(), names.size());
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()), names);
  std::vector<std::string> keys;
  for (const auto& n : names)
    keys.push_back(where.prefix + "/" + ObjectKey({ObjectType::kPack, n}));
  ASSERT_TRUE(client->DeleteObjects(TestBucket(), keys));
  int left = 0;
  ASSERT_TRUE(
      b->List(ObjectType::kPack, [&](const ObjectInfo&) -> Result<void> {
        ++left;
        return Ok();
      }));
  EXPECT_EQ(left, 0);
}

TEST_F(S3ServerTest, LeftoverMultipartUploadsAreListedAndAborted) {
  // Given a multipart upload a crashed run left behind, then maintenance lists
  // it and aborts it.
  auto config = ResolveS3Config(TestOptions(), ProcessEnv());
  ASSERT_TRUE(config);
  auto client =
      std::make_shared<S3Client>(*config, NewDefaultCredentialsChain());
  S3Location where{TestBucket(), RandomPrefix()};
  auto b = NewS3BackendWithClient(client, where, TestOptions());
  ASSERT_TRUE(b->Create());
  auto id = client->CreateMultipartUpload(TestBucket(),
                                          where.prefix + "/data/ab/abcd", {});
  ASSERT_TRUE(id) << id.error().message;
  auto* m = AsS3Maintenance(*b);
  ASSERT_NE(m, nullptr);
  auto pending = m->ListIncompleteUploads();
  ASSERT_TRUE(pending) << pending.error().message;
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].upload_id, *id);
  // Uploads started after the cut-off are kept.
  auto kept = m->AbortIncompleteUploads(std::chrono::system_clock::now() -
                                        std::chrono::hours(1));
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, 0);
  auto n = m->AbortIncompleteUploads(std::chrono::system_clock::now() +
                                     std::chrono::minutes(5));
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 1);
  EXPECT_TRUE(m->ListIncompleteUploads()->empty());
}

TEST_F(S3ServerTest, MissingBucketIsNoRepositoryAndCreateMakesIt) {
  // Given a bucket that does not exist, then reads say so clearly, and Create()
  // makes it.
  std::string bucket = "efs2s3-missing-" + HexEncode(RandomBytes(4));
  auto b = NewS3Backend({bucket, "repo"}, TestOptions());
  ASSERT_TRUE(b);
  auto r = (*b)->Load({ObjectType::kConfig, "config"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNoRepository) << r.error().message;
  EXPECT_NE(r.error().message.find(bucket), std::string::npos);
  auto st = (*b)->Stat({ObjectType::kConfig, "config"});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kNoRepository) << st.error().message;
  EXPECT_NE(st.error().message.find("bucket does not exist"),
            std::string::npos);
  ASSERT_TRUE((*b)->Create());
  ASSERT_TRUE((*b)->Save({ObjectType::kConfig, "config"}, ToBytes("c"),
                         {.create_only = true}));
  EXPECT_EQ((*b)->Create().error().code, ErrorCode::kAlreadyExists);
}

TEST_F(S3ServerTest, VirtualHostAddressing) {
  // Given the endpoint as a host name (radosgw's rgw_dns_name is localhost),
  // then virtual-host style requests (bucket.localhost) work.
  std::string ep = TestEndpoint();
  if (ep.find("127.0.0.1") == std::string::npos)
    GTEST_SKIP() << "needs a loopback endpoint";
  S3Options o = TestOptions();
  o.endpoint = ep.replace(ep.find("127.0.0.1"), 9, "localhost");
  auto config = ResolveS3Config(o, ProcessEnv());
  ASSERT_TRUE(config);
  std::string port = o.endpoint.substr(o.endpoint.rfind(':') + 1);
  config->http.resolve = {TestBucket() + ".localhost:" + port + ":127.0.0.1"};
  auto client =
      std::make_shared<S3Client>(*config, NewDefaultCredentialsChain());
  EXPECT_EQ(client->ObjectUrl(TestBucket(), "k"),
            "http://" + TestBucket() + ".localhost:" + port + "/k");
  auto b = NewS3BackendWithClient(client, {TestBucket(), RandomPrefix()}, o);
  ASSERT_TRUE(b->Create());
  Handle h{ObjectType::kIndex, HexEncode(RandomBytes(32))};
  auto saved = b->Save(h, ToBytes("virtual"), {});
  ASSERT_TRUE(saved) << saved.error().message;
  EXPECT_EQ(*b->Load(h), ToBytes("virtual"));
}

// ---- point-in-time views (NewS3PointInTimeBackend)
// ---------------------------------

// Turns on versioning of `bucket` (PutBucketVersioning).
Result<void> EnableVersioning(S3Client& client, const std::string& bucket) {
  S3Client::Call call("PUT", bucket, "");
  call.query = {{"versioning", ""}};
  const std::string body =
      "<VersioningConfiguration "
      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Status>Enabled</Status></VersioningConfiguration>";
  call.body = AsBytes(body);
  call.content_md5 = true;
  RETURN_IF_ERROR(client.Execute(call));
  return Ok();
}

// The newest LastModified under `prefix`, versions and delete markers alike.
std::int64_t Newest(S3Client& client, const std::string& bucket,
                    const std::string& prefix) {
  std::int64_t newest = 0;
  auto listed = client.ListObjectVersions(
      bucket, prefix, [&](const ObjectVersion& v) -> Result<void> {
        newest = std::max(newest, v.last_modified_ns);
        return Ok();
      });
  EXPECT_TRUE(listed) << listed.error().message;
  return newest;
}

// Returns once the server stamps a new write later than `t`: LastModified has
// milliseconds on radosgw and moto, whole seconds on Amazon S3, so writes in
// the same tick as `t` would count as "at `t`". A write of a scratch key
// outside the repository, repeated until its time is past `t`.
void WaitUntilServerTimeIsPast(S3Client& client, const std::string& bucket,
                               std::int64_t t) {
  const std::string scratch = "scratch-" + HexEncode(RandomBytes(8));
  for (;;) {
    ASSERT_TRUE(client.PutObject(bucket, scratch, ToBytes("tick"), {}));
    if (Newest(client, bucket, scratch) > t) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::set<std::string> Names(Backend& b, ObjectType type) {
  std::set<std::string> out;
  auto listed = b.List(type, [&](const ObjectInfo& o) -> Result<void> {
    out.insert(o.name + ":" + std::to_string(o.size));
    return Ok();
  });
  EXPECT_TRUE(listed) << listed.error().message;
  return out;
}

// The attack on a small repository: objects written before T (config written
// while the bucket was not yet versioned: a "null" version), then, after T,
// config overwritten, a key and a snapshot deleted (delete markers), a pack
// overwritten and a new one added. The view at T sees the objects as they
// were; a view before anything sees nothing; writes are refused.
// `make_client(page_size)` gives a client of the server under test with that
// many entries per listing page.
void PointInTimeScenario(
    const std::function<std::shared_ptr<S3Client>(int)>& make_client,
    const std::string& bucket) {
  std::shared_ptr<S3Client> client = make_client(1000);
  ASSERT_TRUE(client->CreateBucket(bucket));
  S3Location where{bucket, RandomPrefix()};
  S3Options o;
  auto now = NewS3BackendWithClient(client, where, o);
  const Handle config{ObjectType::kConfig, "config"};
  const Handle key{ObjectType::kKey, HexEncode(RandomBytes(32))};
  const Handle snap{ObjectType::kSnapshot, HexEncode(RandomBytes(32))};
  const Handle pack1{ObjectType::kPack, HexEncode(RandomBytes(32))};
  const Handle pack2{ObjectType::kPack, HexEncode(RandomBytes(32))};
  ASSERT_TRUE(now->Save(config, ToBytes("config-1"), {}));
  auto versioned = EnableVersioning(*client, bucket);
  ASSERT_TRUE(versioned) << versioned.error().message;
  ASSERT_TRUE(now->Save(key, ToBytes("key"), {.create_only = true}));
  ASSERT_TRUE(now->Save(snap, ToBytes("snapshot"), {.create_only = true}));
  ASSERT_TRUE(now->Save(pack1, ToBytes("pack-one"), {}));
  const std::int64_t t = Newest(*client, bucket, where.prefix + "/");
  ASSERT_GT(t, 0);
  WaitUntilServerTimeIsPast(*client, bucket, t);
  // The attack, with the same credentials.
  ASSERT_TRUE(now->Save(config, ToBytes("garbage!!"), {}));
  ASSERT_TRUE(now->Remove(key));
  ASSERT_TRUE(now->Remove(snap));
  ASSERT_TRUE(now->Save(pack1, ToBytes("garbage"), {}));
  ASSERT_TRUE(now->Save(pack2, ToBytes("pack-two"), {}));
  EXPECT_EQ(*now->Load(config), ToBytes("garbage!!"));
  EXPECT_EQ(now->Stat(key).error().code, ErrorCode::kNotFound);

  // Listings first, with pages of two entries (key and version markers).
  auto listed = NewS3PointInTimeBackendWithClient(make_client(2), where, o, t);
  EXPECT_EQ(Names(*listed, ObjectType::kConfig),
            std::set<std::string>{"config:8"});
  EXPECT_EQ(Names(*listed, ObjectType::kKey),
            std::set<std::string>{key.name + ":3"});
  EXPECT_EQ(Names(*listed, ObjectType::kSnapshot),
            std::set<std::string>{snap.name + ":8"});
  EXPECT_EQ(Names(*listed, ObjectType::kPack),
            std::set<std::string>{pack1.name + ":8"});
  EXPECT_TRUE(Names(*listed, ObjectType::kIndex).empty());
  EXPECT_EQ(*listed->Load(pack1), ToBytes("pack-one"));

  // Reads without a listing first: each key's versions are listed on demand.
  auto then = NewS3PointInTimeBackendWithClient(client, where, o, t);
  auto c = then->Load(config);  // the "null" version
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(*c, ToBytes("config-1"));
  EXPECT_EQ(*then->Load(key), ToBytes("key"));
  EXPECT_EQ(*then->Load(snap), ToBytes("snapshot"));
  auto range = then->Load(pack1, 2, 3);
  ASSERT_TRUE(range) << range.error().message;
  EXPECT_EQ(*range, ToBytes("ck-"));
  EXPECT_EQ(*then->Load(pack1, 5), ToBytes("one"));
  auto st = then->Stat(pack1);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->size, 8u);
  auto missing = then->Load(pack2);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("not found at"), std::string::npos)
      << missing.error().message;
  EXPECT_EQ(then->Stat(pack2).error().code, ErrorCode::kNotFound);

  // Every write fails at once, and says why.
  for (const Result<void>& w :
       {then->Save(pack2, ToBytes("x"), {}), then->Remove(pack1),
        then->Create(),
        then->SaveFrom(key, SpanSource(ToBytes("x")), {.create_only = true})}) {
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, ErrorCode::kPermission);
    EXPECT_NE(w.error().message.find("read-only at a point in time"),
              std::string::npos)
        << w.error().message;
  }
  EXPECT_EQ(*now->Load(pack1), ToBytes("garbage"));  // nothing was written

  // Before the repository existed: nothing at all.
  auto before = NewS3PointInTimeBackendWithClient(client, where, o, 1);
  EXPECT_TRUE(Names(*before, ObjectType::kConfig).empty());
  EXPECT_TRUE(Names(*before, ObjectType::kPack).empty());
  EXPECT_EQ(before->Stat(config).error().code, ErrorCode::kNotFound);
}

TEST_F(S3ServerTest, PointInTimeViewIgnoresLaterVersionsAndDeleteMarkers) {
  auto config = ResolveS3Config(TestOptions(), ProcessEnv());
  ASSERT_TRUE(config);
  PointInTimeScenario(
      [&](int page_size) {
        S3Config c = *config;
        c.list_page_size = page_size;
        return std::make_shared<S3Client>(c, NewDefaultCredentialsChain());
      },
      "efs2s3-pit-" + HexEncode(RandomBytes(4)));
}

// ---- moto_server: storage classes and SSE headers
// -----------------------------------

class MotoServer {
 public:
  MotoServer() {
    std::string exe = FindInPath("moto_server");
    if (exe.empty()) return;
    installed_ = true;
    port_ = FreePort();
    if (port_ == 0) return;
    std::string port = std::to_string(port_);
    const char* argv[] = {exe.c_str(), "-H",         "127.0.0.1",
                          "-p",        port.c_str(), nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid_, exe.c_str(), &fa, nullptr, const_cast<char**>(argv),
                    environ) != 0)
      pid_ = 0;
    posix_spawn_file_actions_destroy(&fa);
    if (!pid_) return;
    // Until it answers or exits (a loaded machine may take many seconds;
    // ctest's timeout bounds a server that neither answers nor exits).
    HttpClient http;
    while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
      auto r = http.Do({"GET", endpoint() + "/", {}, {}, "moto"});
      if (r && r->status > 0) {
        ready_ = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    pid_ = 0;  // exited
  }
  ~MotoServer() {
    if (pid_) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool installed() const { return installed_; }
  bool ready() const { return ready_; }
  std::string endpoint() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }

 private:
  static std::string FindInPath(const std::string& name) {
    std::string path = EnvOr("PATH", "");
    size_t pos = 0;
    while (pos <= path.size()) {
      size_t end = path.find(':', pos);
      if (end == std::string::npos) end = path.size();
      std::string cand = path.substr(pos, end - pos) + "/" + name;
      if (::access(cand.c_str(), X_OK) == 0) return cand;
      pos = end + 1;
    }
    return "";
  }
  // A port nobody listens on now (the kernel's choice for port 0).
  static int FreePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
    ::close(fd);
    return port;
  }
  pid_t pid_ = 0;
  int port_ = 0;
  bool installed_ = false, ready_ = false;
};

// One moto_server for the whole run, started on first use, stopped at exit.
MotoServer* SharedMoto() {
  static MotoServer moto;
  if (moto.installed() && !moto.ready())
    ADD_FAILURE() << "moto_server is installed but did not start";
  return moto.ready() ? &moto : nullptr;
}

TEST(S3MotoTest, StorageClassPerObjectKindAndSse) {
  // Given data packs in GLACIER_IR and metadata in STANDARD_IA with SSE AES256,
  // then the server reports those classes per object kind.
  MotoServer moto;
  if (!moto.installed()) GTEST_SKIP() << "moto_server is not installed";
  ASSERT_TRUE(moto.ready()) << "moto_server is installed but did not start";
  S3Options o;
  o.endpoint = moto.endpoint();
  o.storage_class_data = "GLACIER_IR";
  o.storage_class_meta = "STANDARD_IA";
  o.sse = "AES256";
  auto config =
      ResolveS3Config(o, [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(config);
  auto client = std::make_shared<S3Client>(
      *config, NewStaticCredentials({"testing", "testing", "", {}, "test"}));
  auto b = NewS3BackendWithClient(client, {"moto-bucket", "repo"}, o);
  auto created = b->Create();
  ASSERT_TRUE(created) << created.error().message;
  Handle pack{ObjectType::kPack, HexEncode(RandomBytes(32))};
  Handle snap{ObjectType::kSnapshot, HexEncode(RandomBytes(32))};
  ASSERT_TRUE(b->Save(pack, ToBytes("pack"), {}));
  ASSERT_TRUE(b->Save(snap, ToBytes("snap"), {.create_only = true}));
  auto pm = client->HeadObject("moto-bucket", "repo/" + ObjectKey(pack));
  ASSERT_TRUE(pm) << pm.error().message;
  EXPECT_EQ(pm->storage_class, "GLACIER_IR");
  auto sm = client->HeadObject("moto-bucket", "repo/" + ObjectKey(snap));
  ASSERT_TRUE(sm);
  EXPECT_EQ(sm->storage_class, "STANDARD_IA");
  EXPECT_EQ(*b->Load(snap), ToBytes("snap"));
}

TEST(S3MotoTest, ObjectLockWritesRetentionsAndDeletesOnlyExpiredVersions) {
  // Given a backend with a COMPLIANCE policy on a new bucket, then the bucket
  // is created with Object Lock; every object but locks carries the retention;
  // an extension moves the date; Remove of a locked object leaves its version
  // (a delete marker hides it) and of a lock deletes it for good.
  MotoServer moto;
  if (!moto.installed()) GTEST_SKIP() << "moto_server is not installed";
  ASSERT_TRUE(moto.ready()) << "moto_server is installed but did not start";
  S3Options o;
  o.endpoint = moto.endpoint();
  auto config =
      ResolveS3Config(o, [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(config);
  auto client = std::make_shared<S3Client>(
      *config, NewStaticCredentials({"testing", "testing", "", {}, "test"}));
  auto b = NewS3BackendWithClient(client, {"moto-locked", "repo"}, o);
  ASSERT_TRUE(b->SetLockPolicy({"COMPLIANCE", 3600}));
  auto created = b->Create();
  ASSERT_TRUE(created) << created.error().message;
  auto can = b->CanLock();
  ASSERT_TRUE(can) << can.error().message;
  EXPECT_TRUE(*can);
  Handle pack{ObjectType::kPack, HexEncode(RandomBytes(32))};
  Handle lock{ObjectType::kLock, HexEncode(RandomBytes(32))};
  ASSERT_TRUE(b->Save(pack, ToBytes("pack"), {}));
  ASSERT_TRUE(b->Save(lock, ToBytes("lock"), {}));
  const std::int64_t now = std::time(nullptr);
  auto r = b->GetRetention(pack);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->mode, "COMPLIANCE");
  EXPECT_GE(r->until, now + 3500);
  EXPECT_LE(r->until, now + 3700);
  auto lr = b->GetRetention(lock);
  ASSERT_TRUE(lr);
  EXPECT_EQ(lr->mode, "");
  ASSERT_TRUE(b->ExtendRetention(pack, now + 7200));
  r = b->GetRetention(pack);
  ASSERT_TRUE(r);
  EXPECT_GE(r->until, now + 7100);
  const std::string version = r->version_id;
  ASSERT_FALSE(version.empty());
  ASSERT_TRUE(b->Remove(pack));
  ASSERT_TRUE(b->Remove(lock));
  EXPECT_EQ(b->Stat(pack).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(b->Stat(lock).error().code, ErrorCode::kNotFound);
  // The locked version is still there and nobody may delete it.
  auto del = client->DeleteObjectVersion("moto-locked",
                                         "repo/" + ObjectKey(pack), version);
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().code, ErrorCode::kPermission) << del.error().message;
}

// moto accepts any credentials and checks no signature: a second opinion on S3
// semantics, not a substitute for radosgw. Skips when moto_server is absent.
std::unique_ptr<Backend> FreshMoto() {
  MotoServer* moto = SharedMoto();
  if (!moto) return nullptr;
  S3Options o;
  o.endpoint = moto->endpoint();
  auto config =
      ResolveS3Config(o, [](const std::string&) { return std::nullopt; });
  auto client = std::make_shared<S3Client>(
      *config, NewStaticCredentials({"testing", "testing", "", {}, "test"}));
  auto b =
      NewS3BackendWithClient(client, {"moto-conformance", RandomPrefix()}, o);
  auto created = b->Create();
  EXPECT_TRUE(created) << created.error().message;
  return b;
}

TEST(S3MotoTest, PointInTimeViewIgnoresLaterVersionsAndDeleteMarkers) {
  MotoServer* moto = SharedMoto();
  if (!moto) GTEST_SKIP() << "moto_server is not installed";
  S3Options o;
  o.endpoint = moto->endpoint();
  auto config =
      ResolveS3Config(o, [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(config);
  PointInTimeScenario(
      [&](int page_size) {
        S3Config c = *config;
        c.list_page_size = page_size;
        return std::make_shared<S3Client>(
            c, NewStaticCredentials({"testing", "testing", "", {}, "test"}));
      },
      "moto-pit-" + HexEncode(RandomBytes(4)));
}

INSTANTIATE_TEST_SUITE_P(S3, BackendConformanceTest,
                         ::testing::Values(BackendUnderTest{"radosgw",
                                                            FreshS3Default},
                                           BackendUnderTest{"moto", FreshMoto}),
                         BackendName);

}  // namespace
}  // namespace efs2s3::storage::s3
