// model: the plain data of a snapshot (nodes, trees, snapshots) and its
// encoding.
//
// A directory is a tree blob: the sorted list of its entries' Nodes, encoded
// deterministically (docs/FORMAT.md, "Trees"), so the same directory state
// always gives the same tree ID. Names and symlink targets are raw bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/id.h"
#include "base/result.h"

namespace efs2s3::model {

enum class NodeType {
  kFile,
  kDir,
  kSymlink,
  kFifo,
  kSocket,
  kCharDev,
  kBlockDev
};

const char* NodeTypeName(NodeType t);
std::optional<NodeType> NodeTypeFromName(std::string_view name);

struct Timespec {
  std::int64_t sec = 0;
  std::uint32_t nsec = 0;
  auto operator<=>(const Timespec&) const = default;
};

// Node::flags: what the backup knows to be wrong with an entry's stored state
// (docs/FORMAT.md, "Trees"). 0 is a clean entry; unknown bits are kept as read.
inline constexpr std::uint32_t kFlagChangedWhileRead = 1u << 0;  // files
inline constexpr std::uint32_t kFlagIncomplete = 1u << 1;        // files, dirs

// The names of the flags set in `flags` ("changed-while-read", "incomplete",
// and "flag-<bit>" for bits this version does not know), in bit order.
std::vector<std::string> FlagNames(std::uint32_t flags);
// FlagNames joined by ",", "" for 0.
std::string FlagsString(std::uint32_t flags);

struct Node {
  std::string name;  // raw bytes, never empty, no '/', not "." or ".."
  NodeType type = NodeType::kFile;
  std::uint32_t mode = 0;  // permission and special bits (07777)
  std::uint32_t uid = 0, gid = 0;
  std::string user, group;  // names at backup time, informational
  Timespec mtime, atime, ctime;
  std::uint64_t size = 0;
  std::uint64_t inode = 0, device = 0, links = 0;
  std::uint64_t rdev = 0;     // devices
  std::string link_target;    // symlinks, raw bytes
  std::vector<Id> content;    // files: data blob IDs in order
  std::optional<Id> subtree;  // directories
  std::vector<std::pair<std::string, std::string>> xattrs;  // sorted by name
  bool sparse = false;  // file had holes at backup time
  // kFlag*: a file stored while it kept changing (its content may mix two
  // versions), or cut short by a read error; a directory some of whose
  // entries could not be read (they are missing from its tree).
  std::uint32_t flags = 0;

  bool operator==(const Node&) const = default;
};

// True if `name` may be a directory entry: non-empty, no '/', no NUL, not
// "."/"..".
bool IsSafeName(std::string_view name);

struct Tree {
  std::vector<Node> nodes;  // sorted by name (bytewise), names unique
  bool operator==(const Tree&) const = default;
};

// Deterministic binary encoding (MessagePack, see docs/FORMAT.md). Sorts nodes.
Bytes EncodeTree(Tree tree);
// kCorruption for malformed data, unsorted/duplicate or unsafe names.
Result<Tree> DecodeTree(ByteSpan data);
// A human-readable JSON rendering for `cat tree`.
std::string TreeToJson(const Tree& tree);

}  // namespace efs2s3::model
