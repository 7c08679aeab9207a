// Test helper: runs testing/fake_aws.py (python3) on a free loopback port for
// the life of the object. Header-only, for tests of the S3 module.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "aws/http.h"

extern char** environ;

namespace efs2s3::aws::testing {

// Secrets the fake expects (see fake_aws.py).
inline constexpr char kImdsToken[] = "imds-session-token";
inline constexpr char kEcsToken[] = "ecs-authorization-token";
inline constexpr char kWebToken[] = "web-identity-token";

class FakeAws {
 public:
  FakeAws() {
    int fds[2];
    if (::pipe(fds) != 0) return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    const char* argv[] = {"python3", EFS2S3_FAKE_AWS_SCRIPT, nullptr};
    if (posix_spawnp(&pid_, "python3", &fa, nullptr, const_cast<char**>(argv),
                     environ) != 0)
      pid_ = 0;
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    FILE* out = ::fdopen(fds[0], "r");
    if (out && std::fscanf(out, "%d", &port_) != 1) port_ = 0;
    if (out) std::fclose(out);
  }
  ~FakeAws() {
    if (pid_) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  FakeAws(const FakeAws&) = delete;
  FakeAws& operator=(const FakeAws&) = delete;

  bool ok() const { return pid_ != 0 && port_ != 0; }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }

  // Queues answers for the next S3 requests (see fake_aws.py).
  void Script(const nlohmann::json& answers) {
    std::string body = answers.dump();
    (void)http_.Do({"POST", url() + "/_script", {}, AsBytes(body), "fake"});
  }
  // Requests seen so far (method, path, headers, body_size).
  nlohmann::json Log() {
    auto r = http_.Do({"GET", url() + "/_log", {}, {}, "fake"});
    if (!r) return nlohmann::json::array();
    return nlohmann::json::parse(AsString(r->body));
  }

 private:
  pid_t pid_ = 0;
  int port_ = 0;
  HttpClient http_;
};

}  // namespace efs2s3::aws::testing
