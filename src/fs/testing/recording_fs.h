// A FileSystem that passes every call to the real one and counts it per path,
// so that a unit test can assert how a walk touched a tree: how often each
// entry was stat'ed, which files were opened.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "fs/file_system.h"

namespace efs2s3::fs::testing {

class RecordingFileSystem : public FileSystem {
 public:
  struct Counts {
    int stats = 0, dir_opens = 0, file_opens = 0, lists = 0;
  };

  int StatAt(int dirfd, const std::string& name, const std::string& path,
             struct stat* st) override {
    Bump(path, &Counts::stats);
    return FileSystem::StatAt(dirfd, name, path, st);
  }
  int OpenDirAt(int dirfd, const std::string& name,
                const std::string& path) override {
    Bump(path, &Counts::dir_opens);
    return FileSystem::OpenDirAt(dirfd, name, path);
  }
  int OpenFileAt(int dirfd, const std::string& name,
                 const std::string& path) override {
    Bump(path, &Counts::file_opens);
    return FileSystem::OpenFileAt(dirfd, name, path);
  }
  Result<std::vector<std::string>> ListDir(int fd,
                                           const std::string& path) override {
    Bump(path, &Counts::lists);
    return FileSystem::ListDir(fd, path);
  }

  std::map<std::string, Counts> counts() {
    std::lock_guard lock(mu_);
    return counts_;
  }
  Counts Total() {
    std::lock_guard lock(mu_);
    Counts t;
    for (const auto& [p, c] : counts_) {
      t.stats += c.stats;
      t.dir_opens += c.dir_opens;
      t.file_opens += c.file_opens;
      t.lists += c.lists;
    }
    return t;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    counts_.clear();
  }

 private:
  void Bump(const std::string& path, int Counts::*field) {
    std::lock_guard lock(mu_);
    ++(counts_[path].*field);
  }
  std::mutex mu_;
  std::map<std::string, Counts> counts_;
};

}  // namespace efs2s3::fs::testing
