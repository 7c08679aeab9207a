// Snapshots: one backup run's root tree and its description.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/id.h"
#include "base/result.h"

namespace efs2s3::model {

struct SnapshotSummary {
  std::uint64_t files_new = 0, files_changed = 0, files_unchanged = 0;
  std::uint64_t dirs_new = 0, dirs_changed = 0, dirs_unchanged = 0;
  std::uint64_t other_nodes = 0;
  std::uint64_t errors = 0;
  // Nodes stored with Node::flags (docs/FORMAT.md, "Trees"): files that kept
  // changing while read, files and directories stored incomplete.
  std::uint64_t changed_while_read = 0, incomplete = 0;
  std::uint64_t bytes_read = 0;   // file bytes read from the source
  std::uint64_t bytes_total = 0;  // size of all files in the snapshot
  std::uint64_t bytes_added = 0;  // plaintext bytes of new blobs
  std::uint64_t bytes_stored =
      0;  // bytes of new blobs after compression+encryption
  std::uint64_t blobs_added = 0;
  double duration_seconds = 0;
};

struct Snapshot {
  std::int64_t time_ns = 0;  // unix epoch, nanoseconds
  std::string hostname;
  std::string username;
  std::vector<std::string> paths;  // absolute, as given
  std::vector<std::string> tags;
  std::vector<std::string> excludes;
  Id tree;
  std::optional<Id> parent;
  // A copy (`copy`): the ID of the snapshot it was copied from, in the
  // repository it came from (or that snapshot's own original).
  std::optional<Id> original;
  std::string program_version;
  SnapshotSummary summary;
};

// Saved by one worker of a sharded run (tagged "shard:RUN:I/N"): it holds
// only that worker's share, so it is never the parent of a backup, and
// forget's policies (and the report's preview of them) leave it to the merge.
bool IsShardSnapshot(const Snapshot& snapshot);

// JSON text (docs/FORMAT.md, "Snapshots").
std::string EncodeSnapshot(const Snapshot& s);
// The summary as the JSON object stored in snapshots (and printed by
// `backup --json`).
nlohmann::json SummaryToJson(const SnapshotSummary& m);
Result<Snapshot> DecodeSnapshot(std::string_view json_text);

// RFC 3339 in UTC with nanoseconds, e.g. "2026-11-27T15:04:05.123456789Z".
std::string FormatTime(std::int64_t unix_ns, bool local = false);
// Accepts RFC 3339 ("2026-11-27T15:04:05Z", offsets, fractions) and
// "YYYY-MM-DD HH:MM:SS" (local time).
Result<std::int64_t> ParseTime(std::string_view text);

}  // namespace efs2s3::model
