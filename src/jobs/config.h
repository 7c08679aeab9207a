// The job configuration file (TOML), e.g. /etc/efs2s3/efs2s3.toml.
//
//   state_dir = "/var/lib/efs2s3"          # reports, last runs, job locks
//   [jobs.nightly]
//   repository = "s3://bucket/efs"
//   password_file = "/etc/efs2s3/password"  # or password_command
//   source = { efs = "fs-12345678", path = "/" }   # or { paths = ["/data"] }
//   schedule = "0 3 * * *"
//   timezone = "Europe/Berlin"
//   [jobs.nightly.retention]  keep_daily = 7 ...
//   [jobs.nightly.prune]      every = "7d"
//   [jobs.nightly.check]      every = "1d"  read_data_subset = "5%"
//   [jobs.nightly.lock_extend] every = "1d"  lock_days = 30
//   [jobs.nightly.drill]      every = "7d"  sample = "20"  max_duration =
//                             "30m"  target = "/var/tmp"  allow_cold = false
//   [jobs.nightly.hooks]      pre = ["..."]  post = ["..."]
//   [jobs.nightly.report]     webhook = "https://..."  file = "/var/log/..."
//                             sns_topic = "arn:aws:sns:..."  sns_when =
//                             "problems"  html = "/var/www/report.html"
//   [jobs.nightly.env]        AWS_PROFILE = "backup"
//   [jobs.nightly.s3]         endpoint = "..."  region = "..."  ...
//
// docs/JOBS.md is the full reference. LoadConfig validates everything (types,
// unknown keys, cron expressions, time zones, intervals, retention) before
// anything runs; every error names the file, line, column and key:
//   "efs2s3.toml:12:1: jobs.nightly.schedule: hour field: 24 out of range 0-23"
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "jobs/cron.h"

namespace efs2s3::jobs {

struct EfsSource {
  std::string file_system_id;  // fs-12345678
  std::string path = "/";      // inside the file system
  std::string region;          // "" = environment or instance metadata
  std::string mount_point;     // "" = <state_dir>/mnt/<fs-id>
  std::string access_point;    // fsap-...: mounts with amazon-efs-utils
  std::string mount_options;   // "" = the recommended NFSv4.1 options
  bool operator==(const EfsSource&) const = default;
};

struct Retention {
  int keep_last = 0, keep_hourly = 0, keep_daily = 0, keep_weekly = 0,
      keep_monthly = 0, keep_yearly = 0;
  std::string keep_within;
  std::vector<std::string> keep_tags;
  std::string group_by;  // "" = forget's default
  bool empty() const {
    return !keep_last && !keep_hourly && !keep_daily && !keep_weekly &&
           !keep_monthly && !keep_yearly && keep_within.empty() &&
           keep_tags.empty();
  }
  bool operator==(const Retention&) const = default;
};

struct Maintenance {
  bool enabled = false;
  // Minimum time between two runs; 0 = every job run.
  std::chrono::seconds every{0};
  // Only on these weekdays (0 = Sunday), in the job's time zone; empty = any.
  // For hosts without persistent state (Fargate, one-shot EC2), where `every`
  // cannot be known.
  std::vector<int> weekdays;
  std::string read_data_subset;  // check only: "5%", "1/10", "500M"
  std::string max_unused;        // prune only
  // lock_extend only: the repository's lock period in days (init
  // --lock-days), when the file states it; 0 = not known here. Then `every`
  // (plus the longest gap between `weekdays`) must be shorter.
  int lock_days = 0;
  // drill only: --sample ("20", "5%"; "" = the command's default), the
  // directory below which the scratch copy is made ("" = <state_dir>/drill),
  // --max-duration (0 = none) and --allow-cold.
  std::string sample, target;
  std::chrono::seconds max_duration{0};
  bool allow_cold = false;
  bool operator==(const Maintenance&) const = default;
};

struct Job {
  std::string name;
  std::string repository;
  std::string password_file, password_command;
  std::vector<std::string> paths;  // local source paths
  std::optional<EfsSource> efs;
  std::vector<std::string> excludes, exclude_files, tags;
  std::string host;
  bool one_file_system = false;
  // backup --compression (codec::ParseCompression's names); "" = its default.
  std::string compression;
  int workers = 0;
  std::string schedule_text;
  std::optional<Schedule> schedule;  // unset: only run by hand
  std::string timezone;
  Retention retention;
  // Maintenance steps: prune, check, `lock extend` (extends the Object
  // Lock retention of what kept snapshots use) and the restore drill.
  Maintenance prune, check, lock_extend, drill;
  std::vector<std::string> pre_hooks, post_hooks;
  std::chrono::seconds hook_timeout{3600};
  std::string report_webhook, report_file;
  // A Prometheus text file (node_exporter's textfile collector) rewritten
  // after each run that included the backup; ends in ".prom".
  std::string metrics_file;
  // `efs2s3 report --html` written here after every run ("" = none).
  std::string report_html;
  // SNS topic ARN; with report_sns_problems_only only runs that are not "ok"
  // are published.
  std::string report_sns_topic;
  bool report_sns_problems_only = false;
  std::map<std::string, std::string> env;
  // Global options passed on to every child ("--s3-endpoint", value).
  std::vector<std::pair<std::string, std::string>> s3_options;
  int line = 0;  // where the job is defined
  bool operator==(const Job&) const = default;
};

struct Config {
  std::string path;
  std::string state_dir;
  std::vector<Job> jobs;  // sorted by name

  const Job* Find(const std::string& name) const;
};

// The longest wait from one of `weekdays` (0 = Sunday) to the next: 7 days
// for one weekday, 0 for none (any day).
std::chrono::seconds LongestWeekdayGap(std::vector<int> weekdays);

// Reads and validates a configuration file. kNotFound if it does not exist,
// kInvalidArgument for a syntax or validation error (message
// "FILE:LINE:COL: KEY: what is wrong").
Result<Config> LoadConfig(const std::string& path);
// The same, from text (`path` is used in messages only).
Result<Config> ParseConfig(const std::string& text, const std::string& path);

// The default configuration file: $EFS2S3_CONFIG, else /etc/efs2s3/efs2s3.toml.
std::string DefaultConfigPath();

}  // namespace efs2s3::jobs
