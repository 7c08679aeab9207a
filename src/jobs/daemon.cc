#include "jobs/daemon.h"

#include <fmt/format.h>
#include <unistd.h>

#include <map>

#include "base/exit_codes.h"

namespace efs2s3::jobs {

namespace {

struct Slot {
  std::string key;  // schedule + zone: a changed schedule is recomputed
  std::time_t next = 0;
};

std::string SlotKey(const Job& j) { return j.schedule_text + "|" + j.timezone; }

}  // namespace

Result<int> RunDaemon(const DaemonOptions& opts) {
  auto log = [&](const std::string& s) {
    if (opts.run.log) opts.run.log(s);
  };
  ASSIGN_OR_RETURN(Config config, LoadConfig(opts.config_path));
  std::map<std::string, Slot> slots;
  auto plan = [&](std::time_t now) {
    std::map<std::string, Slot> next;
    for (const Job& j : config.jobs) {
      if (!j.schedule) continue;
      auto old = slots.find(j.name);
      if (old != slots.end() && old->second.key == SlotKey(j)) {
        next[j.name] = old->second;
        continue;
      }
      Slot s{SlotKey(j), j.schedule->Next(now, j.timezone)};
      log(fmt::format("daemon: job {} ({}{}): next run {}", j.name,
                      j.schedule_text,
                      j.timezone.empty() ? "" : ", " + j.timezone,
                      s.next ? FormatUtc(s.next) : "never"));
      next[j.name] = s;
    }
    slots = std::move(next);
  };
  plan(std::time(nullptr));
  if (slots.empty()) log("daemon: no job has a schedule; waiting for SIGHUP");
  int runs = 0;
  RunOptions run = opts.run;
  run.cancel = opts.stop;
  while (!(opts.stop && opts.stop->load())) {
    if (opts.reload && opts.reload->exchange(false)) {
      auto fresh = LoadConfig(opts.config_path);
      if (!fresh) {
        log("daemon: reload failed, keeping the previous configuration: " +
            fresh.error().message);
      } else {
        config = std::move(*fresh);
        log(fmt::format("daemon: reloaded {} ({} job(s))", opts.config_path,
                        config.jobs.size()));
        plan(std::time(nullptr));
      }
    }
    std::time_t now = std::time(nullptr);
    const Job* due = nullptr;
    std::time_t due_at = 0;
    for (const Job& j : config.jobs) {
      auto it = slots.find(j.name);
      if (it == slots.end() || it->second.next == 0 || it->second.next > now)
        continue;
      if (!due || it->second.next < due_at) {
        due = &j;
        due_at = it->second.next;
      }
    }
    if (!due) {
      ::usleep(100000);
      continue;
    }
    log(fmt::format("daemon: starting job {} (due {})", due->name,
                    FormatUtc(due_at)));
    auto report = RunJob(config, *due, run);
    if (!report) {
      log(fmt::format("daemon: job {}: {}", due->name, report.error().message));
    } else {
      log(fmt::format("daemon: job {} finished: {} (exit {})", due->name,
                      report->Status(), report->exit_code));
      if (opts.on_report) opts.on_report(*report);
    }
    // The next slot after now: missed slots are not replayed.
    std::time_t after = std::max(std::time(nullptr), due_at);
    slots[due->name].next = due->schedule->Next(after, due->timezone);
    ++runs;
    if (opts.max_runs && runs >= opts.max_runs) break;
  }
  log("daemon: stopped");
  return kExitOk;
}

}  // namespace efs2s3::jobs
