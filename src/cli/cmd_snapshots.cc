// snapshots, ls, find, diff
#include <fmt/format.h>

#include "cli/context.h"
#include "cli/exit_codes.h"
#include "model/snapshot.h"
#include "pattern/pattern.h"
#include "restorer/restorer.h"
#include "trees/trees.h"

namespace efs2s3::cli {

using model::Node;
using model::NodeType;

namespace {

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

nlohmann::json SnapshotJson(const Id& id, const model::Snapshot& s) {
  return {{"id", id.Hex()},
          {"short_id", id.Short()},
          {"time", model::FormatTime(s.time_ns)},
          {"hostname", s.hostname},
          {"username", s.username},
          {"paths", s.paths},
          {"tags", s.tags},
          {"tree", s.tree.Hex()},
          {"parent", s.parent ? s.parent->Hex() : ""},
          {"program_version", s.program_version},
          {"summary",
           {{"files_new", s.summary.files_new},
            {"files_changed", s.summary.files_changed},
            {"files_unchanged", s.summary.files_unchanged},
            {"bytes_total", s.summary.bytes_total},
            {"bytes_added", s.summary.bytes_added},
            {"errors", s.summary.errors},
            {"duration_seconds", s.summary.duration_seconds}}}};
}

std::string ModeString(const Node& n) {
  std::string s = "-";
  switch (n.type) {
    case NodeType::kDir:
      s = "d";
      break;
    case NodeType::kSymlink:
      s = "l";
      break;
    case NodeType::kFifo:
      s = "p";
      break;
    case NodeType::kSocket:
      s = "s";
      break;
    case NodeType::kCharDev:
      s = "c";
      break;
    case NodeType::kBlockDev:
      s = "b";
      break;
    default:
      break;
  }
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (n.mode & (1u << (8 - i))) ? rwx[i] : '-';
  if (n.mode & 04000) s[3] = (n.mode & 0100) ? 's' : 'S';
  if (n.mode & 02000) s[6] = (n.mode & 010) ? 's' : 'S';
  if (n.mode & 01000) s[9] = (n.mode & 01) ? 't' : 'T';
  return s;
}

// "  [changed-while-read]" after a flagged node's path (model::Node::flags),
// "" for a clean one.
std::string FlagSuffix(const Node& n) {
  return n.flags ? "  [" + model::FlagsString(n.flags) + "]" : "";
}

nlohmann::json NodeJson(const Node& n, const std::string& path) {
  nlohmann::json j = {
      {"path", path},
      {"name", n.name},
      {"type", model::NodeTypeName(n.type)},
      {"mode", n.mode},
      {"uid", n.uid},
      {"gid", n.gid},
      {"size", n.size},
      {"mtime", model::FormatTime(n.mtime.sec * 1000000000 + n.mtime.nsec)}};
  if (n.type == NodeType::kSymlink) j["target"] = n.link_target;
  j["flags"] = model::FlagNames(n.flags);
  return j;
}

struct SnapFilter {
  std::string host;
  std::vector<std::string> paths;
  std::vector<std::string> tags;
};

Result<int> RunSnapshots(const SnapFilter& f, Context& ctx) {
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kNone));
  std::vector<repo::UnreadableSnapshot> unreadable;
  ASSIGN_OR_RETURN(auto all, repo->ListSnapshots(&unreadable));
  nlohmann::json j = nlohmann::json::array();
  std::string text = fmt::format("{:<10} {:<20} {:<14} {:<16} {}\n", "ID",
                                 "Time", "Host", "Tags", "Paths");
  int n = 0;
  for (const auto& [id, s] : all) {
    if (!f.host.empty() && s.hostname != f.host) continue;
    bool tags_ok =
        std::all_of(f.tags.begin(), f.tags.end(), [&](const std::string& t) {
          return std::find(s.tags.begin(), s.tags.end(), t) != s.tags.end();
        });
    bool paths_ok =
        std::all_of(f.paths.begin(), f.paths.end(), [&](const std::string& p) {
          return std::find(s.paths.begin(), s.paths.end(), p) != s.paths.end();
        });
    if (!tags_ok || !paths_ok) continue;
    ++n;
    j.push_back(SnapshotJson(id, s));
    text += fmt::format("{:<10} {:<20} {:<14} {:<16} {}\n", id.Short(),
                        model::FormatTime(s.time_ns, true), s.hostname,
                        Join(s.tags, ","), Join(s.paths, " "));
  }
  if (ctx.global.json)
    ctx.PrintJson(j);
  else
    ctx.Print(text + fmt::format("{} snapshot(s)\n", n));
  // The readable ones are listed; each unreadable one is named (exit 3).
  ctx.SkipUnreadable(unreadable);
  return kExitOk;
}

Result<int> RunLs(const std::string& spec, const std::string& path,
                  bool long_format, bool recursive, const SnapFilter& f,
                  Context& ctx) {
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kNone));
  ASSIGN_OR_RETURN(auto snap,
                   FindSnapshotArg(ctx, *repo, spec, f.host, f.paths));
  ASSIGN_OR_RETURN(Node start,
                   restorer::FindNode(*repo, snap.second.tree, path));
  std::string base = path;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (!base.empty() && base[0] != '/') base = "/" + base;
  auto print = [&](const std::string& p, const Node& n) -> Result<void> {
    if (ctx.global.json) {
      auto j = NodeJson(n, p);
      j["message_type"] = "node";
      ctx.PrintJson(j);
    } else if (long_format) {
      std::string extra =
          n.type == NodeType::kSymlink ? " -> " + Printable(n.link_target) : "";
      ctx.Print(fmt::format("{} {:>5} {:>5} {:>12} {} {}{}{}\n", ModeString(n),
                            n.uid, n.gid, n.size,
                            model::FormatTime(n.mtime.sec * 1000000000, true),
                            Printable(p), extra, FlagSuffix(n)));
    } else {
      ctx.Print(Printable(p) + "\n");
    }
    return Ok();
  };
  if (start.type != NodeType::kDir || !start.subtree) {
    RETURN_IF_ERROR(print(base, start));
    return 0;
  }
  if (recursive) {
    RETURN_IF_ERROR(trees::Walk(*repo, *start.subtree, base, print));
  } else {
    ASSIGN_OR_RETURN(model::Tree t, repo->LoadTree(*start.subtree));
    for (const Node& n : t.nodes)
      RETURN_IF_ERROR(print(base + "/" + n.name, n));
  }
  return 0;
}

Result<int> RunFind(const std::vector<std::string>& patterns,
                    const SnapFilter& f, Context& ctx) {
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kNone));
  std::vector<repo::UnreadableSnapshot> unreadable;
  ASSIGN_OR_RETURN(auto all, repo->ListSnapshots(&unreadable));
  ctx.SkipUnreadable(unreadable);
  std::uint64_t found = 0;
  for (const auto& [id, s] : all) {
    if (!f.host.empty() && s.hostname != f.host) continue;
    RETURN_IF_ERROR(trees::Walk(
        *repo, s.tree, "",
        [&](const std::string& p, const Node& n) -> Result<void> {
          for (const auto& pat : patterns) {
            if (pattern::Matches(pat, p)) {
              ++found;
              if (ctx.global.json) {
                auto j = NodeJson(n, p);
                j["message_type"] = "match";
                j["snapshot"] = id.Hex();
                ctx.PrintJson(j);
              } else {
                ctx.Print(fmt::format("{} {} {:>12} {}{}\n", id.Short(),
                                      ModeString(n), n.size, Printable(p),
                                      FlagSuffix(n)));
              }
              break;
            }
          }
          return Ok();
        }));
  }
  if (!ctx.global.json) ctx.Info(fmt::format("{} match(es)\n", found));
  return 0;
}

Result<int> RunDiff(const std::string& s1, const std::string& s2,
                    Context& ctx) {
  ASSIGN_OR_RETURN(repo::Repository * repo,
                   ctx.OpenRepository(Context::LockMode::kNone));
  ASSIGN_OR_RETURN(auto a, FindSnapshotArg(ctx, *repo, s1));
  ASSIGN_OR_RETURN(auto b, FindSnapshotArg(ctx, *repo, s2));
  std::map<char, std::uint64_t> counts;
  RETURN_IF_ERROR(trees::Diff(
      *repo, a.second.tree, b.second.tree, "",
      [&](char op, const std::string& p, const Node& n) {
        ++counts[op];
        if (ctx.global.json) {
          auto j = NodeJson(n, p);
          j["message_type"] = "change";
          j["change"] = std::string(1, op);
          ctx.PrintJson(j);
        } else {
          // A flag change shows the new flags, "clean" when none are left.
          std::string flags = op == 'F' && !n.flags ? "  [clean]"
                              : op != '-'           ? FlagSuffix(n)
                                                    : "";
          ctx.Print(fmt::format("{}    {}{}{}\n", op, Printable(p),
                                n.type == NodeType::kDir ? "/" : "", flags));
        }
      }));
  ctx.Info(fmt::format(
      "\nadded: {}, removed: {}, modified: {}, metadata changed: {}, flags "
      "changed: {}\n",
      counts['+'], counts['-'], counts['M'], counts['U'], counts['F']));
  return 0;
}

void AddFilter(CLI::App* c, SnapFilter& f) {
  c->add_option("--host", f.host, "Only snapshots of this host");
  c->add_option("--path", f.paths,
                "Only snapshots with this path (repeatable)");
}

}  // namespace

void RegisterSnapshots(CLI::App& app, Context& ctx) {
  auto f = std::make_shared<SnapFilter>();
  CLI::App* s = app.add_subcommand("snapshots", "List snapshots");
  AddFilter(s, *f);
  s->add_option("--tag", f->tags, "Only snapshots with this tag (repeatable)");
  s->callback(
      [&ctx, f] { ctx.run = [&ctx, f] { return RunSnapshots(*f, ctx); }; });

  struct LsArgs {
    std::string snapshot, path = "/";
    bool long_format = false, non_recursive = false;
    SnapFilter filter;
  };
  auto l = std::make_shared<LsArgs>();
  CLI::App* ls = app.add_subcommand(
      "ls", "List files in a snapshot (recursively below PATH)");
  ls->add_option("snapshot", l->snapshot, "Snapshot ID, prefix or 'latest'")
      ->required();
  ls->add_option("path", l->path, "Path inside the snapshot (default /)");
  ls->add_flag("-l,--long", l->long_format,
               "Long format: mode, owner, size, time");
  ls->add_flag("--non-recursive", l->non_recursive,
               "Only the entries directly below PATH");
  AddFilter(ls, l->filter);
  ls->callback([&ctx, l] {
    ctx.run = [&ctx, l] {
      return RunLs(l->snapshot, l->path, l->long_format, !l->non_recursive,
                   l->filter, ctx);
    };
  });

  auto pats = std::make_shared<std::vector<std::string>>();
  auto ff = std::make_shared<SnapFilter>();
  CLI::App* fd =
      app.add_subcommand("find", "Find files by name (glob) in all snapshots");
  fd->add_option("pattern", *pats,
                 "Glob on the name, or on the whole path if it contains '/'")
      ->required();
  fd->add_option("--host", ff->host, "Only snapshots of this host");
  fd->callback([&ctx, pats, ff] {
    ctx.run = [&ctx, pats, ff] { return RunFind(*pats, *ff, ctx); };
  });

  auto d = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* df =
      app.add_subcommand("diff", "Show what changed between two snapshots");
  df->add_option("snapshot1", d->first)->required();
  df->add_option("snapshot2", d->second)->required();
  df->callback([&ctx, d] {
    ctx.run = [&ctx, d] { return RunDiff(d->first, d->second, ctx); };
  });
}

}  // namespace efs2s3::cli
