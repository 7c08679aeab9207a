#include "model/node.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

namespace efs2s3::model {

using json = nlohmann::json;

namespace {
constexpr const char* kTypeNames[] = {"file",   "dir",     "symlink", "fifo",
                                      "socket", "chardev", "blockdev"};

json Bin(std::string_view s) {
  return json::binary(std::vector<std::uint8_t>(s.begin(), s.end()));
}
json Bin(const Id& id) {
  return json::binary(
      std::vector<std::uint8_t>(id.bytes.begin(), id.bytes.end()));
}
json Time(const Timespec& t) { return json::array({t.sec, t.nsec}); }

Result<std::string> GetBin(const json& j) {
  if (!j.is_binary())
    return MakeError(ErrorCode::kCorruption, "expected bytes");
  const auto& b = j.get_binary();
  return std::string(b.begin(), b.end());
}
Result<Id> GetId(const json& j) {
  ASSIGN_OR_RETURN(std::string s, GetBin(j));
  if (s.size() != 32)
    return MakeError(ErrorCode::kCorruption, "bad blob ID length");
  return Id::FromSpan(AsBytes(s));
}
Result<Timespec> GetTime(const json& j) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_number_integer() ||
      !j[1].is_number_unsigned() || j[1].get<std::uint64_t>() >= 1000000000)
    return MakeError(ErrorCode::kCorruption, "bad timestamp");
  return Timespec{j[0].get<std::int64_t>(), j[1].get<std::uint32_t>()};
}
template <class T>
T GetNum(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return T{};
  return it->get<T>();
}

json EncodeNode(const Node& n) {
  json j = json::object();
  j["name"] = Bin(n.name);
  j["type"] = kTypeNames[static_cast<int>(n.type)];
  j["mode"] = n.mode;
  j["uid"] = n.uid;
  j["gid"] = n.gid;
  if (!n.user.empty()) j["user"] = n.user;
  if (!n.group.empty()) j["group"] = n.group;
  j["mtime"] = Time(n.mtime);
  j["atime"] = Time(n.atime);
  j["ctime"] = Time(n.ctime);
  if (n.type == NodeType::kFile) j["size"] = n.size;
  if (n.inode) j["inode"] = n.inode;
  if (n.device) j["dev"] = n.device;
  if (n.links) j["links"] = n.links;
  if (n.rdev) j["rdev"] = n.rdev;
  if (n.type == NodeType::kSymlink) j["target"] = Bin(n.link_target);
  if (n.type == NodeType::kFile) {
    json c = json::array();
    for (const Id& id : n.content) c.push_back(Bin(id));
    j["content"] = std::move(c);
  }
  if (n.subtree) j["subtree"] = Bin(*n.subtree);
  if (!n.xattrs.empty()) {
    json x = json::array();
    for (const auto& [k, v] : n.xattrs)
      x.push_back(json::array({Bin(k), Bin(v)}));
    j["xattrs"] = std::move(x);
  }
  if (n.sparse) j["sparse"] = true;
  // Absent when clean, so that a clean tree has the bytes (and the ID) it had
  // before the field existed.
  if (n.flags) j["flags"] = n.flags;
  return j;
}

Result<Node> DecodeNode(const json& j) {
  if (!j.is_object())
    return MakeError(ErrorCode::kCorruption, "node is not a map");
  Node n;
  auto name = j.find("name");
  if (name == j.end())
    return MakeError(ErrorCode::kCorruption, "node without name");
  ASSIGN_OR_RETURN(n.name, GetBin(*name));
  auto type = j.find("type");
  if (type == j.end() || !type->is_string())
    return MakeError(ErrorCode::kCorruption, "node without type");
  auto t = NodeTypeFromName(type->get<std::string>());
  if (!t)
    return MakeError(ErrorCode::kCorruption,
                     "unknown node type " + type->get<std::string>());
  n.type = *t;
  n.mode = GetNum<std::uint32_t>(j, "mode") & 07777;
  n.uid = GetNum<std::uint32_t>(j, "uid");
  n.gid = GetNum<std::uint32_t>(j, "gid");
  if (auto it = j.find("user"); it != j.end() && it->is_string())
    n.user = it->get<std::string>();
  if (auto it = j.find("group"); it != j.end() && it->is_string())
    n.group = it->get<std::string>();
  for (auto [key, field] :
       {std::pair{"mtime", &n.mtime}, std::pair{"atime", &n.atime},
        std::pair{"ctime", &n.ctime}}) {
    auto it = j.find(key);
    if (it == j.end())
      return MakeError(ErrorCode::kCorruption,
                       std::string("node without ") + key);
    ASSIGN_OR_RETURN(*field, GetTime(*it));
  }
  n.size = GetNum<std::uint64_t>(j, "size");
  n.inode = GetNum<std::uint64_t>(j, "inode");
  n.device = GetNum<std::uint64_t>(j, "dev");
  n.links = GetNum<std::uint64_t>(j, "links");
  n.rdev = GetNum<std::uint64_t>(j, "rdev");
  if (auto it = j.find("target"); it != j.end()) {
    ASSIGN_OR_RETURN(n.link_target, GetBin(*it));
  }
  if (auto it = j.find("content"); it != j.end()) {
    if (!it->is_array())
      return MakeError(ErrorCode::kCorruption, "content is not a list");
    for (const auto& c : *it) {
      ASSIGN_OR_RETURN(Id id, GetId(c));
      n.content.push_back(id);
    }
  }
  if (auto it = j.find("subtree"); it != j.end()) {
    ASSIGN_OR_RETURN(Id id, GetId(*it));
    n.subtree = id;
  }
  if (auto it = j.find("xattrs"); it != j.end()) {
    if (!it->is_array())
      return MakeError(ErrorCode::kCorruption, "xattrs is not a list");
    for (const auto& x : *it) {
      if (!x.is_array() || x.size() != 2)
        return MakeError(ErrorCode::kCorruption, "bad xattr");
      ASSIGN_OR_RETURN(std::string k, GetBin(x[0]));
      ASSIGN_OR_RETURN(std::string v, GetBin(x[1]));
      n.xattrs.emplace_back(std::move(k), std::move(v));
    }
  }
  if (auto it = j.find("sparse"); it != j.end() && it->is_boolean())
    n.sparse = it->get<bool>();
  if (auto it = j.find("flags"); it != j.end()) {
    if (!it->is_number_unsigned() ||
        it->get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max())
      return MakeError(ErrorCode::kCorruption, "bad node flags");
    n.flags = it->get<std::uint32_t>();
  }
  if (n.type == NodeType::kDir && !n.subtree)
    return MakeError(ErrorCode::kCorruption, "directory node without subtree");
  return n;
}

std::string Printable(std::string_view raw) {
  return json(std::string(raw))
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

const char* NodeTypeName(NodeType t) { return kTypeNames[static_cast<int>(t)]; }

std::optional<NodeType> NodeTypeFromName(std::string_view name) {
  for (int i = 0; i < 7; ++i)
    if (name == kTypeNames[i]) return static_cast<NodeType>(i);
  return std::nullopt;
}

std::vector<std::string> FlagNames(std::uint32_t flags) {
  std::vector<std::string> out;
  for (unsigned bit = 0; bit < 32; ++bit) {
    const std::uint32_t f = 1u << bit;
    if (!(flags & f)) continue;
    if (f == kFlagChangedWhileRead)
      out.emplace_back("changed-while-read");
    else if (f == kFlagIncomplete)
      out.emplace_back("incomplete");
    else
      out.push_back("flag-" + std::to_string(bit));
  }
  return out;
}

std::string FlagsString(std::uint32_t flags) {
  std::string out;
  for (const std::string& name : FlagNames(flags))
    out += (out.empty() ? "" : ",") + name;
  return out;
}

bool IsSafeName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

Bytes EncodeTree(Tree tree) {
  std::sort(tree.nodes.begin(), tree.nodes.end(),
            [](const Node& a, const Node& b) { return a.name < b.name; });
  json nodes = json::array();
  for (const Node& n : tree.nodes) nodes.push_back(EncodeNode(n));
  json root = json::object();
  root["nodes"] = std::move(nodes);
  return json::to_msgpack(root);
}

Result<Tree> DecodeTree(ByteSpan data) {
  json root = json::from_msgpack(data.begin(), data.end(), true, false);
  if (root.is_discarded() || !root.is_object())
    return MakeError(ErrorCode::kCorruption, "tree is not valid MessagePack");
  auto it = root.find("nodes");
  if (it == root.end() || !it->is_array())
    return MakeError(ErrorCode::kCorruption, "tree without node list");
  Tree tree;
  for (const auto& j : *it) {
    ASSIGN_OR_RETURN(Node n, DecodeNode(j));
    if (!IsSafeName(n.name))
      return MakeError(ErrorCode::kCorruption,
                       "unsafe entry name " + Printable(n.name));
    if (!tree.nodes.empty() && !(tree.nodes.back().name < n.name))
      return MakeError(
          ErrorCode::kCorruption,
          "entries not sorted or duplicated at " + Printable(n.name));
    tree.nodes.push_back(std::move(n));
  }
  return tree;
}

std::string TreeToJson(const Tree& tree) {
  json out = json::array();
  for (const Node& n : tree.nodes) {
    json j = json::object();
    j["name"] = n.name;
    j["type"] = NodeTypeName(n.type);
    j["mode"] = n.mode;
    j["uid"] = n.uid;
    j["gid"] = n.gid;
    j["user"] = n.user;
    j["group"] = n.group;
    j["mtime"] = Time(n.mtime);
    j["atime"] = Time(n.atime);
    j["ctime"] = Time(n.ctime);
    j["size"] = n.size;
    j["inode"] = n.inode;
    j["links"] = n.links;
    if (n.type == NodeType::kSymlink) j["target"] = n.link_target;
    if (n.rdev) j["rdev"] = n.rdev;
    if (!n.content.empty()) {
      json c = json::array();
      for (const Id& id : n.content) c.push_back(id.Hex());
      j["content"] = c;
    }
    if (n.subtree) j["subtree"] = n.subtree->Hex();
    if (n.flags) j["flags"] = FlagNames(n.flags);
    if (!n.xattrs.empty()) {
      json x = json::object();
      for (const auto& [k, v] : n.xattrs) x[k] = Base64Encode(AsBytes(v));
      j["xattrs_base64"] = x;
    }
    out.push_back(j);
  }
  return out.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace efs2s3::model
