#include "jobs/config_writer.h"

#include <fmt/format.h>

#include <algorithm>

namespace efs2s3::jobs {

namespace {

bool IsBareKey(const std::string& k) {
  return !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::string TomlKey(const std::string& k) {
  return IsBareKey(k) ? k : TomlString(k);
}

std::string TomlList(const std::vector<std::string>& v) {
  std::vector<std::string> q;
  for (const auto& s : v) q.push_back(TomlString(s));
  return "[" + fmt::format("{}", fmt::join(q, ", ")) + "]";
}

// Appends "key = value" lines to one table of one job; a key listed in the
// verbatim map is written with its given text instead.
class TableWriter {
 public:
  TableWriter(std::string& out, const TomlVerbatim& verbatim, std::string table)
      : out_(out), verbatim_(verbatim), table_(std::move(table)) {}

  void String(const char* key, const std::string& v) {
    if (!Verbatim(key) && !v.empty()) Line(key, TomlString(v));
  }
  void Strings(const char* key, const std::vector<std::string>& v) {
    if (!Verbatim(key) && !v.empty()) Line(key, TomlList(v));
  }
  void Int(const char* key, int v) {
    if (!Verbatim(key) && v != 0) Line(key, std::to_string(v));
  }
  void Bool(const char* key, bool v, bool default_value = false) {
    if (!Verbatim(key) && v != default_value) Line(key, v ? "true" : "false");
  }
  void Interval(const char* key, std::chrono::seconds v,
                std::chrono::seconds default_value) {
    if (!Verbatim(key) && v != default_value)
      Line(key, TomlString(v.count() == 0 ? "0" : FormatInterval(v)));
  }
  void Line(const std::string& key, const std::string& value) {
    out_ += TomlKey(key) + " = " + value + "\n";
  }

 private:
  bool Verbatim(const char* key) {
    auto it = verbatim_.find(table_.empty() ? key : table_ + "." + key);
    if (it == verbatim_.end()) return false;
    Line(key, it->second);
    return true;
  }

  std::string& out_;
  const TomlVerbatim& verbatim_;
  std::string table_;
};

std::string SourceTable(const Job& j) {
  if (!j.efs) return "{ paths = " + TomlList(j.paths) + " }";
  const EfsSource& e = *j.efs;
  std::vector<std::string> kv = {"efs = " + TomlString(e.file_system_id),
                                 "path = " + TomlString(e.path)};
  auto add = [&](const char* key, const std::string& v) {
    if (!v.empty()) kv.push_back(std::string(key) + " = " + TomlString(v));
  };
  add("mount_point", e.mount_point);
  add("access_point", e.access_point);
  add("region", e.region);
  add("mount_options", e.mount_options);
  return "{ " + fmt::format("{}", fmt::join(kv, ", ")) + " }";
}

// Whether a verbatim key belongs to `table` (which is then written).
bool HasVerbatim(const TomlVerbatim& verbatim, const std::string& table) {
  auto it = verbatim.lower_bound(table + ".");
  return it != verbatim.end() && it->first.rfind(table + ".", 0) == 0;
}

void WriteMaintenance(std::string& out, const std::string& header,
                      const char* name, const Maintenance& m,
                      const TomlVerbatim& verbatim) {
  if (!m.enabled && m == Maintenance{} && !HasVerbatim(verbatim, name)) return;
  out += "\n[" + header + "." + name + "]\n";
  TableWriter w(out, verbatim, name);
  w.Bool("enabled", m.enabled, true);
  w.Interval("every", m.every, std::chrono::seconds(0));
  static const char* const kDays[] = {"sun", "mon", "tue", "wed",
                                      "thu", "fri", "sat"};
  std::vector<std::string> days;
  for (int d : m.weekdays) days.push_back(kDays[d % 7]);
  w.Strings("weekdays", days);
  w.String("read_data_subset", m.read_data_subset);
  w.String("max_unused", m.max_unused);
  w.Int("lock_days", m.lock_days);
  w.String("sample", m.sample);
  w.String("target", m.target);
  w.Interval("max_duration", m.max_duration, std::chrono::seconds(0));
  w.Bool("allow_cold", m.allow_cold);
}

void WriteRetention(std::string& out, const std::string& header,
                    const Retention& r, const TomlVerbatim& verbatim) {
  if (r == Retention{} && !HasVerbatim(verbatim, "retention")) return;
  out += "\n[" + header + ".retention]\n";
  TableWriter w(out, verbatim, "retention");
  w.Int("keep_daily", r.keep_daily);
  w.Int("keep_weekly", r.keep_weekly);
  w.Int("keep_monthly", r.keep_monthly);
  w.Int("keep_last", r.keep_last);
  w.Int("keep_hourly", r.keep_hourly);
  w.Int("keep_yearly", r.keep_yearly);
  w.String("keep_within", r.keep_within);
  w.Strings("keep_tag", r.keep_tags);
  w.String("group_by", r.group_by);
}

void WriteHooksAndReport(std::string& out, const std::string& header,
                         const Job& j, const TomlVerbatim& verbatim) {
  const std::chrono::seconds default_timeout = Job{}.hook_timeout;
  if (!j.pre_hooks.empty() || !j.post_hooks.empty() ||
      j.hook_timeout != default_timeout) {
    out += "\n[" + header + ".hooks]\n";
    TableWriter w(out, verbatim, "hooks");
    w.Strings("pre", j.pre_hooks);
    w.Strings("post", j.post_hooks);
    w.Interval("timeout", j.hook_timeout, default_timeout);
  }
  if (!j.report_webhook.empty() || !j.report_file.empty() ||
      !j.report_html.empty() || !j.report_sns_topic.empty() ||
      j.report_sns_problems_only) {
    out += "\n[" + header + ".report]\n";
    TableWriter w(out, verbatim, "report");
    w.String("webhook", j.report_webhook);
    w.String("file", j.report_file);
    w.String("html", j.report_html);
    w.String("sns_topic", j.report_sns_topic);
    w.String("sns_when", j.report_sns_problems_only ? "problems" : "");
  }
  if (!j.env.empty()) {
    out += "\n[" + header + ".env]\n";
    TableWriter w(out, verbatim, "env");
    for (const auto& [k, v] : j.env) w.Line(k, TomlString(v));
  }
}

// The [s3] table from the child options config.cc made of it.
Result<void> WriteS3(std::string& out, const std::string& header, const Job& j,
                     const TomlVerbatim& verbatim) {
  if (j.s3_options.empty()) return Ok();
  out += "\n[" + header + ".s3]\n";
  TableWriter w(out, verbatim, "s3");
  for (const auto& [flag, value] : j.s3_options) {
    std::string key = flag.rfind("--s3-", 0) == 0 ? flag.substr(5) : "";
    std::replace(key.begin(), key.end(), '-', '_');
    if (key == "path_style") {
      w.Line(key, "true");
    } else if (key == "connections") {
      if (value.empty() ||
          value.find_first_not_of("0123456789") != std::string::npos)
        return MakeError(ErrorCode::kInvalidArgument,
                         "--s3-connections '" + value + "' is not a number");
      w.Line(key, value);
    } else if (key == "endpoint" || key == "region" || key == "sse" ||
               key == "sse_kms_key_id" || key == "storage_class_data" ||
               key == "storage_class_meta") {
      w.Line(key, TomlString(value));
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       "job " + j.name + ": option " + flag +
                           " has no key in the configuration file");
    }
  }
  return Ok();
}

Result<void> WriteJob(std::string& out, const Job& j,
                      const TomlVerbatim& verbatim) {
  if (j.name.empty())
    return MakeError(ErrorCode::kInvalidArgument, "a job without a name");
  const std::string header = "jobs." + TomlKey(j.name);
  out += "\n[" + header + "]\n";
  TableWriter w(out, verbatim, "");
  w.String("repository", j.repository);
  w.Line("source", SourceTable(j));
  w.String("password_file", j.password_file);
  w.String("password_command", j.password_command);
  w.String("host", j.host);
  w.String("metrics_file", j.metrics_file);
  w.Strings("tags", j.tags);
  w.Strings("exclude", j.excludes);
  w.Strings("exclude_file", j.exclude_files);
  w.Bool("one_file_system", j.one_file_system);
  w.String("compression", j.compression);
  w.Int("workers", j.workers);
  w.String("schedule", j.schedule_text);
  w.String("timezone", j.timezone);
  WriteRetention(out, header, j.retention, verbatim);
  WriteMaintenance(out, header, "prune", j.prune, verbatim);
  WriteMaintenance(out, header, "check", j.check, verbatim);
  WriteMaintenance(out, header, "lock_extend", j.lock_extend, verbatim);
  WriteMaintenance(out, header, "drill", j.drill, verbatim);
  WriteHooksAndReport(out, header, j, verbatim);
  return WriteS3(out, header, j, verbatim);
}

}  // namespace

std::string TomlString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", static_cast<unsigned char>(c));
        } else {
          out += c;  // UTF-8 passes as it is
        }
    }
  }
  return out + "\"";
}

Result<std::string> WriteConfigToml(const Config& config,
                                    const TomlVerbatim& verbatim) {
  std::string out;
  if (!config.state_dir.empty())
    out += "state_dir = " + TomlString(config.state_dir) + "\n";
  for (const Job& j : config.jobs) RETURN_IF_ERROR(WriteJob(out, j, verbatim));
  return out;
}

}  // namespace efs2s3::jobs
