// Writes a job configuration as TOML that ParseConfig (config.h) reads back as
// the same configuration: the generators use it for the configuration they
// deploy, so that no hand-written TOML has to agree with the parser.
//
// Strings are TOML basic strings with every character that needs it escaped
// (quotes, backslashes, control characters); keys that are not bare keys are
// quoted (a job named "a.b" is [jobs."a.b"]). Only what differs from the
// parser's defaults is written; the key order is fixed (the order of
// docs/JOBS.md), so the output is deterministic.
#pragma once

#include <map>
#include <string>

#include "base/result.h"
#include "jobs/config.h"

namespace efs2s3::jobs {

// Keys of a job ("retention.keep_daily", "prune.weekdays", "workers") whose
// value is given as TOML text and written as it is, whatever the job holds:
// a deployment template's parameters (keep_daily = ${KeepDaily}). A table
// with a verbatim key is written even if the job leaves it empty.
using TomlVerbatim = std::map<std::string, std::string>;

// The configuration as TOML. kInvalidArgument for what the file cannot hold
// (an S3 option that has no key, a job without a name).
Result<std::string> WriteConfigToml(const Config& config,
                                    const TomlVerbatim& verbatim = {});

// A TOML basic string: "a \"b\"\n".
std::string TomlString(const std::string& s);

}  // namespace efs2s3::jobs
