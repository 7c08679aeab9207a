// What a running backup has completed, for its checkpoints.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "base/id.h"
#include "base/result.h"
#include "model/node.h"

namespace efs2s3::archiver {

// The completed entries whose directory is still being read, and the
// directories being read: a map only as large as the walk's frontier. A
// checkpoint builds trees from the two (Build). Paths are absolute.
// Thread-safe; does nothing unless `on`.
class Frontier {
 public:
  explicit Frontier(bool on) : on_(on) {}

  void Opened(const std::string& path, const model::Node& dir);
  // A complete entry; a directory's replaces what was kept below it.
  void Done(const std::string& path, const model::Node& node);
  // A directory that will not complete: it and what is below it are dropped.
  void Abandoned(const std::string& path);

  // The trees of a partial snapshot of what is complete (each directory
  // being read holds its completed entries), saved with save_tree, deepest
  // first. Returns the root tree's ID.
  Result<Id> Build(
      const std::function<Result<Id>(const model::Tree&)>& save_tree) const;

 private:
  const bool on_;
  mutable std::mutex mu_;
  std::map<std::string, model::Node> done_, open_;
};

}  // namespace efs2s3::archiver
