// cat: print repository objects for debugging.
#include <fmt/format.h>

#include "base/bytes.h"
#include "cli/context.h"
#include "repo/pack.h"

namespace efs2s3::cli {

namespace {
// A JSON object as text: as it is, or with --json compact on one line (README,
// "JSON output").
void PrintJsonText(const Context& ctx, const std::string& text) {
  if (ctx.global.json) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_discarded()) {
      ctx.PrintJson(j);
      return;
    }
  }
  ctx.Print(text + "\n");
}

// A JSON document built here: indented, or with --json on one line.
void PrintDoc(const Context& ctx, const nlohmann::json& j) {
  if (ctx.global.json)
    ctx.PrintJson(j);
  else
    ctx.Print(j.dump(2) + "\n");
}

Result<int> RunCat(const std::string& what, const std::string& id,
                   Context& ctx) {
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kNone));
  auto need_id = [&]() -> Result<Id> {
    auto parsed = Id::FromHex(id);
    if (!parsed)
      return MakeError(ErrorCode::kInvalidArgument,
                       "cat " + what + " needs a full 64-digit ID");
    return *parsed;
  };
  if (what == "config") {
    PrintJsonText(ctx, repo->ConfigJson());
  } else if (what == "snapshot") {
    ASSIGN_OR_RETURN(auto s, FindSnapshotArg(ctx, *repo, id));
    PrintJsonText(ctx, model::EncodeSnapshot(s.second));
  } else if (what == "tree") {
    ASSIGN_OR_RETURN(Id tid, need_id());
    ASSIGN_OR_RETURN(model::Tree t, repo->LoadTree(tid));
    PrintJsonText(ctx, model::TreeToJson(t));
  } else if (what == "blob") {
    ASSIGN_OR_RETURN(Id bid, need_id());
    ASSIGN_OR_RETURN(Bytes b, repo->LoadBlob(bid));
    if (ctx.global.json)
      ctx.PrintJson({{"id", bid.Hex()},
                     {"length", b.size()},
                     {"data_base64", Base64Encode(b)}});
    else
      ctx.Print(std::string(AsString(b)));
  } else if (what == "index") {
    if (id.empty()) {
      if (ctx.global.json) {
        ctx.PrintJson(repo->IndexNames());
        return 0;
      }
      for (const auto& n : repo->IndexNames()) ctx.Print(n + "\n");
      return 0;
    }
    ASSIGN_OR_RETURN(Bytes plain,
                     repo->LoadObject(storage::ObjectType::kIndex, id));
    ASSIGN_OR_RETURN(auto run, repo::IndexRun::FromBytes(std::move(plain)));
    nlohmann::json j = {{"supersedes", nlohmann::json::array()},
                        {"blobs", nlohmann::json::array()}};
    for (const Id& s : run->supersedes()) j["supersedes"].push_back(s.Hex());
    for (size_t i = 0; i < run->size(); ++i) {
      Id bid;
      repo::BlobLocation loc = run->At(i, &bid);
      j["blobs"].push_back(
          {{"id", bid.Hex()},
           {"pack", loc.pack.Hex()},
           {"type", loc.type == repo::BlobType::kTree ? "tree" : "data"},
           {"offset", loc.offset},
           {"length", loc.length},
           {"raw_length", loc.raw_length},
           {"compressed", loc.compressed}});
    }
    PrintDoc(ctx, j);
  } else if (what == "key") {
    ASSIGN_OR_RETURN(std::string text,
                     repo->LoadKeyFile(id.empty() ? repo->key_name() : id));
    PrintJsonText(ctx, text);
  } else if (what == "pack") {
    ASSIGN_OR_RETURN(auto entries, repo->PackHeader(id));
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : entries)
      j.push_back({{"id", e.id.Hex()},
                   {"type", e.type == repo::BlobType::kTree ? "tree" : "data"},
                   {"offset", e.offset},
                   {"length", e.length},
                   {"raw_length", e.raw_length}});
    PrintDoc(ctx, j);
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "cat: unknown object kind " + what);
  }
  return 0;
}
}  // namespace

void RegisterCat(CLI::App& app, Context& ctx) {
  auto what = std::make_shared<std::string>();
  auto id = std::make_shared<std::string>();
  CLI::App* c =
      app.add_subcommand("cat",
                         "Print a repository object: config | snapshot ID | "
                         "tree ID | blob ID | index [ID] | key [ID] | pack ID");
  c->add_option("kind", *what)
      ->required()
      ->check(CLI::IsMember(
          {"config", "snapshot", "tree", "blob", "index", "key", "pack"}));
  c->add_option("id", *id);
  c->callback([&ctx, what, id] {
    ctx.run = [&ctx, what, id] { return RunCat(*what, *id, ctx); };
  });
}

}  // namespace efs2s3::cli
