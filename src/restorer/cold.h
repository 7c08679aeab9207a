// restorer: restores from data in archive storage classes (S3 GLACIER,
// DEEP_ARCHIVE, INTELLIGENT_TIERING archive tiers; docs/S3.md, "Cold
// storage").
//
// Algorithm:
//   plan:    a dry run of the restore (the same walk and selection) collects
//            the packs the selected files need; each pack's storage class and
//            restore state come from HEAD requests (up to 1000 packs) or one
//            listing of all packs plus a HEAD of each archived one.
//   request: RestoreObject for every archived pack without a readable copy
//            and without a restore under way (nor one recorded in the state
//            file by an earlier run): each pack is asked for once.
//   passes:  a restore pass writes every file whose packs are all readable
//            and were not all readable in the pass before, and defers the
//            rest; between passes the waiting packs are polled (HEAD) with
//            a growing interval. So files arrive as their packs do, not after
//            the last one, and no byte is fetched twice.
// The state file (in the repository's cache) records the plan's requests; a
// re-run of the same restore (same snapshot, selection and target) requests
// nothing again and skips files the target already holds whole (same size
// and mtime, which a restore sets last).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "repo/interfaces.h"
#include "restorer/restorer.h"
#include "storage/storage_class.h"

namespace efs2s3::restorer {

struct ColdOptions {
  std::string tier = "Standard";  // "Expedited", "Standard", "Bulk"
  int days = 7;                   // how long restored copies stay readable
  // Retrieval price per GB instead of the table's (storage/storage_class.h).
  std::optional<double> usd_per_gb;
  bool plan_only = false;  // --dry-run: plan, request nothing
  bool wait = true;        // poll until every file is restored
  std::chrono::milliseconds first_poll{std::chrono::minutes(1)};
  std::chrono::milliseconds max_poll{std::chrono::minutes(15)};
  // The plan's requests, kept for re-runs ("" keeps none).
  std::string state_file;
  int parallel = 32;  // HEAD and RestoreObject requests in flight
};

struct ColdPlan {
  std::uint64_t files = 0;  // selected files
  std::uint64_t packs = 0, pack_bytes = 0;
  std::uint64_t hot_packs = 0, hot_bytes = 0;  // readable now
  std::uint64_t archived_packs = 0, archived_bytes = 0;
  std::uint64_t restored_packs = 0;  // archived, with a readable copy
  std::uint64_t ongoing_packs = 0;   // archived, restore under way
  std::uint64_t request_packs = 0, request_bytes = 0;  // to ask for
  // Archived packs and bytes per storage class.
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> by_class;
  // What requesting the `request_packs` would cost and take, per tier that
  // every class involved offers.
  std::vector<storage::TierEstimate> tiers;
  std::string tier;  // the chosen one
  double usd = 0;    // its estimate
  int days = 0;
  bool resumed = false;  // the state file of an earlier run was found
};

struct ColdEvents {
  std::function<void(const ColdPlan&)> on_plan;
  // After the requests: how many were sent now.
  std::function<void(std::uint64_t requested)> on_requested;
  // After each pass: its number, files written, files still waiting, packs
  // readable and waiting.
  std::function<void(int pass, const RestoreResult& r, std::uint64_t ready,
                     std::uint64_t waiting)>
      on_pass;
  // Before a wait for packs, of this long.
  std::function<void(std::chrono::milliseconds)> on_wait;
};

struct ColdResult {
  ColdPlan plan;
  RestoreResult restored;  // summed over passes
  int passes = 0;
  std::uint64_t requested = 0;  // RestoreObject requests sent by this run
  bool pending = false;         // files wait for packs (without `wait`)
};

// Restores the snapshot as RunRestore does (options.file_filter and
// restore_others are set here), in passes as packs become readable.
Result<ColdResult> RunColdRestore(repo::BlobLoader& loader,
                                  repo::PackArchive& archive,
                                  const model::Snapshot& snapshot,
                                  const RestoreOptions& options,
                                  const ColdOptions& cold,
                                  const ColdEvents& events);

}  // namespace efs2s3::restorer
