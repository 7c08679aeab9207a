// Shell completions and man pages, generated from the CLI11 definitions of the
// commands (one source of truth): `efs2s3 generate completion bash|zsh|fish`
// and `efs2s3 generate man DIR`, run by the build for `cmake --install`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <utility>
#include <vector>

namespace efs2s3::cli {

// The completion script for `shell` ("bash", "zsh" or "fish").
std::string CompletionScript(const CLI::App& root, const std::string& shell);

// The man pages (section 1): efs2s3.1 for the program and its global options,
// efs2s3-CMD[-SUB].1 for each command. (file name, roff text) pairs.
std::vector<std::pair<std::string, std::string>> ManPages(
    const CLI::App& root, const std::string& version);

}  // namespace efs2s3::cli
