// generate completion bash|zsh|fish, generate man DIR: hidden commands the
// build runs to make the installed completions and man pages (cli_docs.h).
#include <filesystem>

#include "base/file_util.h"
#include "cli/cli_docs.h"
#include "cli/context.h"

namespace efs2s3::cli {

namespace {

// The file each shell loads completions from, by its name.
std::string CompletionFile(const std::string& shell) {
  if (shell == "zsh") return "_efs2s3";
  if (shell == "fish") return "efs2s3.fish";
  return "efs2s3";
}

Result<int> WriteManPages(const CLI::App& root, const std::string& dir,
                          Context& ctx) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return PosixError(dir, ec.value());
  std::vector<std::string> written;
  for (const auto& [name, text] : ManPages(root, EFS2S3_VERSION)) {
    std::string path = dir + "/" + name;
    RETURN_IF_ERROR(WriteFileAtomic(path, AsBytes(text), false, false));
    written.push_back(path);
  }
  if (ctx.global.json)
    ctx.PrintJson({{"written", written}});
  else
    ctx.Info(std::to_string(written.size()) + " man pages written to " + dir +
             "\n");
  return 0;
}

}  // namespace

void RegisterGenerateDocs(CLI::App& app, Context& ctx) {
  CLI::App* g = app.get_subcommand("generate");
  auto shell = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  CLI::App* comp = g->add_subcommand(
      "completion", "Shell completion script from the command definitions");
  comp->group("");  // hidden: for packaging
  comp->add_option("shell", *shell, "bash, zsh or fish")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  comp->add_option("-o,--output", *output,
                   "Write the script to this file instead of stdout");
  comp->callback([&ctx, &app, shell, output] {
    ctx.run = [&ctx, &app, shell, output]() -> Result<int> {
      std::string script = CompletionScript(app, *shell);
      if (!output->empty()) {
        RETURN_IF_ERROR(
            WriteFileAtomic(*output, AsBytes(script), false, false));
        if (ctx.global.json) ctx.PrintJson({{"written", {*output}}});
      } else if (ctx.global.json)
        ctx.PrintJson({{CompletionFile(*shell), script}});
      else
        ctx.Print(script);
      return 0;
    };
  });
  auto dir = std::make_shared<std::string>();
  CLI::App* man = g->add_subcommand(
      "man", "Man pages (section 1) from the command definitions");
  man->group("");
  man->add_option("dir", *dir, "Directory to write efs2s3*.1 into")->required();
  man->callback([&ctx, &app, dir] {
    ctx.run = [&ctx, &app, dir] { return WriteManPages(app, *dir, ctx); };
  });
}

}  // namespace efs2s3::cli
