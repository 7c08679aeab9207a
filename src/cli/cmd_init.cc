// init, version, key, unlock.
#include <fmt/format.h>
#include <unistd.h>

#include <charconv>

#include "base/test_hooks.h"
#include "cli/context.h"
#include "repo/lock.h"

namespace efs2s3::cli {

namespace {
struct InitOptions {
  std::uint32_t pack_size_mib = 16;
  std::uint32_t chunk_min_kib = 512, chunk_avg_kib = 1024, chunk_max_kib = 8192;
  std::uint64_t scrypt_n = crypto::ScryptParams{}.n;
  std::string object_lock;  // "", "governance", "compliance"
  int lock_days = 0;
};

// A new key's scrypt parameters: N as given, r and p the defaults.
crypto::ScryptParams KeyParams(std::uint64_t n) {
  crypto::ScryptParams params;
  params.n = n;
  return params;
}

Result<int> RunInit(const InitOptions& o, Context& ctx) {
  ASSIGN_OR_RETURN(auto backend, ctx.OpenBackend());
  std::string location = backend->Location();
  ASSIGN_OR_RETURN(
      std::string pw,
      ctx.Password(true, "enter password for the new repository: "));
  repo::InitOptions io;
  io.pack_size = o.pack_size_mib << 20;
  io.chunker = {o.chunk_min_kib << 10, o.chunk_avg_kib << 10,
                o.chunk_max_kib << 10};
  io.kdf = KeyParams(o.scrypt_n);
  if (!o.object_lock.empty()) {
    if (o.lock_days == 0)
      return MakeError(ErrorCode::kUsage,
                       "--object-lock needs --lock-days N (how long each "
                       "object stays undeletable)");
    io.lock_mode = o.object_lock == "compliance" ? "COMPLIANCE" : "GOVERNANCE";
    io.lock_days = o.lock_days;
  } else if (o.lock_days != 0) {
    return MakeError(ErrorCode::kUsage,
                     "--lock-days needs --object-lock governance|compliance");
  }
  if ((io.chunker.avg_size & (io.chunker.avg_size - 1)) ||
      io.chunker.min_size > io.chunker.avg_size ||
      io.chunker.avg_size > io.chunker.max_size)
    return MakeError(
        ErrorCode::kInvalidArgument,
        "chunk sizes must satisfy min <= avg <= max, avg a power of two");
  ASSIGN_OR_RETURN(auto repo, repo::Repository::Init(std::move(backend), pw, io,
                                                     ctx.CacheOptions()));
  if (ctx.global.json) {
    nlohmann::json j = {{"message_type", "initialized"},
                        {"id", repo->config().id},
                        {"repository", location}};
    if (!io.lock_mode.empty())
      j["object_lock"] = {{"mode", io.lock_mode}, {"days", io.lock_days}};
    ctx.PrintJson(j);
  } else {
    ctx.Info(fmt::format("created efs2s3 repository {} at {}\n",
                         repo->config().id.substr(0, 10), location));
    if (!io.lock_mode.empty())
      ctx.Info(fmt::format(
          "Object Lock: {} for {} days; run `efs2s3 lock extend` more often "
          "than that, or unused data becomes deletable while snapshots need "
          "it\n",
          io.lock_mode, io.lock_days));
  }
  return 0;
}

Result<int> RunKey(const std::string& action, const std::string& id,
                   std::uint64_t scrypt_n, Context& ctx) {
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kNone));
  if (action == "list") {
    ASSIGN_OR_RETURN(auto keys, repo->ListKeys());
    nlohmann::json j = nlohmann::json::array();
    std::string text = "  ID        User        Host        Created\n";
    for (const auto& [name, info] : keys) {
      bool cur = name == repo->key_name();
      j.push_back({{"id", name},
                   {"current", cur},
                   {"username", info.username},
                   {"hostname", info.hostname},
                   {"created", info.created}});
      text += fmt::format("{} {:<9} {:<11} {:<11} {}\n", cur ? "*" : " ",
                          name.substr(0, 8), info.username, info.hostname,
                          info.created);
    }
    if (ctx.global.json)
      ctx.PrintJson(j);
    else
      ctx.Print(text);
    return 0;
  }
  if (action == "add" || action == "passwd") {
    // The new password comes from EFS2S3_NEW_PASSWORD(_FILE) or the terminal.
    std::string pw;
    if (const char* p = std::getenv("EFS2S3_NEW_PASSWORD"); p && *p) {
      pw = p;
    } else if (const char* f = std::getenv("EFS2S3_NEW_PASSWORD_FILE");
               f && *f) {
      Context tmp;
      tmp.global.password_file = f;
      ASSIGN_OR_RETURN(pw, tmp.Password());
    } else {
      Context tmp;
      if (!::isatty(STDIN_FILENO))
        return MakeError(ErrorCode::kInvalidArgument,
                         "no new password given (set EFS2S3_NEW_PASSWORD or "
                         "EFS2S3_NEW_PASSWORD_FILE)");
      ASSIGN_OR_RETURN(pw, tmp.Password(true, "enter new password: "));
    }
    // passwd: the old key is removed only after the new one is stored.
    ASSIGN_OR_RETURN(std::string name,
                     action == "passwd"
                         ? repo->ChangePassword(pw, KeyParams(scrypt_n))
                         : repo->AddKey(pw, KeyParams(scrypt_n)));
    if (ctx.global.json)
      ctx.PrintJson({{"id", name}});
    else
      ctx.Info(fmt::format("{} key {}\n",
                           action == "add" ? "added" : "changed password, new",
                           name.substr(0, 8)));
    return 0;
  }
  if (action == "remove") {
    if (id.empty())
      return MakeError(ErrorCode::kInvalidArgument,
                       "key remove needs a key ID");
    // By name only: a damaged key file (docs/MAINTENANCE.md) is removed too.
    ASSIGN_OR_RETURN(auto names, repo->ListKeyNames());
    std::string match;
    for (const auto& n : names)
      if (n.rfind(id, 0) == 0) {
        if (!match.empty())
          return MakeError(ErrorCode::kInvalidArgument,
                           "key ID prefix " + id + " is ambiguous");
        match = n;
      }
    if (match.empty())
      return MakeError(ErrorCode::kNotFound, "keys/" + id + ": no such key");
    RETURN_IF_ERROR(repo->RemoveKey(match));
    if (ctx.global.json) ctx.PrintJson({{"removed", match}});
    ctx.Info(fmt::format("removed key {}\n", match.substr(0, 8)));
    return 0;
  }
  return MakeError(ErrorCode::kInvalidArgument, "unknown key action " + action);
}
}  // namespace

// scrypt's N: a power of two from 2^10 to 2^20 (with r = 8, 1 GiB of memory
// at the top; the default 2^15 takes 32 MiB).
CLI::Validator ScryptN() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        std::uint64_t n = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || p != v.data() + v.size() || n < (1u << 10) ||
            n > (1u << 20) || (n & (n - 1)) != 0)
          return "scrypt N must be a power of two from 1024 to 1048576, not " +
                 v;
        return "";
      },
      "POWER OF TWO 1024..1048576");
}

void RegisterInit(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<InitOptions>();
  CLI::App* c = app.add_subcommand("init", "Create a new repository");
  c->add_option("--pack-size", o->pack_size_mib,
                "Target pack size in MiB (default 16)")
      ->check(CLI::Range(1, 1024));
  c->add_option("--chunk-min", o->chunk_min_kib,
                "Minimum chunk size in KiB (default 512)")
      ->check(CLI::Range(64, 65536));
  c->add_option("--chunk-avg", o->chunk_avg_kib,
                "Average chunk size in KiB, a power of two (default 1024)")
      ->check(CLI::Range(64, 65536));
  c->add_option("--chunk-max", o->chunk_max_kib,
                "Maximum chunk size in KiB (default 8192)")
      ->check(CLI::Range(64, 65536));
  c->add_option("--scrypt-n", o->scrypt_n,
                "scrypt cost N for the key (default 16384, with r = 8, p = 5)")
      ->check(ScryptN());
  c->add_option("--object-lock", o->object_lock,
                "S3 Object Lock mode of every object written: governance or "
                "compliance (the bucket must have Object Lock; efs2s3 creates "
                "a new bucket with it)")
      ->check(CLI::IsMember({"governance", "compliance"}));
  c->add_option("--lock-days", o->lock_days,
                "Days each object stays undeletable (with --object-lock); "
                "`lock extend` keeps live data locked")
      ->check(CLI::Range(1, repo::kMaxLockDays));
  c->callback([&ctx, o] { ctx.run = [&ctx, o] { return RunInit(*o, ctx); }; });

  auto action = std::make_shared<std::string>();
  auto id = std::make_shared<std::string>();
  auto n = std::make_shared<std::uint64_t>(crypto::ScryptParams{}.n);
  CLI::App* k = app.add_subcommand(
      "key", "Manage passwords (key files): add, list, remove ID, passwd");
  k->add_option("action", *action, "add | list | remove | passwd")
      ->required()
      ->check(CLI::IsMember({"add", "list", "remove", "passwd"}));
  k->add_option("id", *id, "Key ID (prefix) for remove");
  k->add_option("--scrypt-n", *n, "scrypt cost N for a new key")
      ->check(ScryptN());
  k->callback([&ctx, action, id, n] {
    ctx.run = [&ctx, action, id, n] { return RunKey(*action, *id, *n, ctx); };
  });

  CLI::App* v = app.add_subcommand("version", "Print the version");
  v->callback([&ctx] {
    ctx.run = [&ctx]() -> Result<int> {
      if (ctx.global.json)
        ctx.PrintJson({{"version", EFS2S3_VERSION},
                       {"repository_format", 1},
                       {"test_hooks", test_hooks::Enabled()}});
      else
        ctx.Print(fmt::format("efs2s3 {} (repository format 1{})\n",
                              EFS2S3_VERSION,
                              test_hooks::Enabled() ? ", test hooks" : ""));
      return 0;
    };
  });

  auto all = std::make_shared<bool>(false);
  CLI::App* u = app.add_subcommand(
      "unlock", "Remove stale locks (all locks with --remove-all)");
  u->add_flag("--remove-all", *all, "Remove every lock, not only stale ones");
  u->callback([&ctx, all] {
    ctx.run = [&ctx, all]() -> Result<int> {
      ASSIGN_OR_RETURN(repo::Repository * repo,
                       ctx.OpenRepository(Context::LockMode::kNone));
      ASSIGN_OR_RETURN(int removed, repo::RemoveLocks(*repo, *all));
      if (ctx.global.json)
        ctx.PrintJson({{"removed", removed}});
      else
        ctx.Info(fmt::format("removed {} lock(s)\n", removed));
      return 0;
    };
  });
}

}  // namespace efs2s3::cli
