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
  // The bytes of json::to_msgpack({"nodes": [node...]}), written a node at a
  // time instead of from a document of the whole tree: a map of one key,
  // "nodes", then the array's header as nlohmann writes it, then each node's
  // own encoding (MessagePack is the same standalone and embedded).
  Bytes out = {0x81, 0xa5, 'n', 'o', 'd', 'e', 's'};
  const size_t n = tree.nodes.size();
  if (n <= 15) {
    out.push_back(static_cast<std::uint8_t>(0x90 | n));
  } else {
    const int width = n <= 0xffff ? 2 : 4;
    out.push_back(width == 2 ? 0xdc : 0xdd);
    for (int i = width - 1; i >= 0; --i)
      out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
  }
  for (const Node& node : tree.nodes) {
    Bytes one = json::to_msgpack(EncodeNode(node));
    out.insert(out.end(), one.begin(), one.end());
  }
  return out;
}

namespace {

// Decodes a tree's MessagePack as it is parsed (nlohmann's SAX interface), one
// node's JSON document at a time: a tree of n entries never exists as a whole
// document (about 1.2 KiB per entry), only as its nodes. The outcome is that of
// decoding the whole document: invalid MessagePack first, then a missing node
// list, then the first bad node; a repeated "nodes" key counts as its last.
class TreeDecoder {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  bool null() { return Value(nullptr); }
  bool boolean(bool v) { return Value(v); }
  bool number_integer(number_integer_t v) { return Value(v); }
  bool number_unsigned(number_unsigned_t v) { return Value(v); }
  bool number_float(number_float_t v, const string_t&) { return Value(v); }
  bool string(string_t& v) { return Value(std::move(v)); }
  bool binary(binary_t& v) {
    if (!v.has_subtype()) return Value(json::binary(std::move(v)));
    const auto subtype = v.subtype();
    return Value(json::binary(std::move(v), subtype));
  }
  bool start_object(std::size_t) { return Open(json::object()); }
  bool start_array(std::size_t) { return Open(json::array()); }
  bool key(string_t& k) {
    if (depth_ == 1) {
      in_nodes_key_ = k == "nodes";
      if (in_nodes_key_) {  // a later "nodes" replaces an earlier one
        tree_.nodes.clear();
        node_error_.reset();
        has_list_ = false;
      }
    } else if (!stack_.empty()) {
      key_ = std::move(k);
    }
    return true;
  }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception&) {
    return false;
  }

  Result<Tree> Finish(bool parsed) {
    if (!parsed || !root_object_)
      return MakeError(ErrorCode::kCorruption, "tree is not valid MessagePack");
    if (!has_list_)
      return MakeError(ErrorCode::kCorruption, "tree without node list");
    if (node_error_) return *node_error_;
    return std::move(tree_);
  }

 private:
  // A node's document is being built below depth 2 (root object, node list).
  bool Building() const { return !stack_.empty(); }

  bool Value(json v) {
    if (depth_ == 0) return true;  // a root that is not an object
    if (Building()) {
      Add(std::move(v));
      return true;
    }
    if (depth_ == 2 && in_list_) {  // a node that is a scalar
      Decoded(v);
    }
    return true;
  }
  bool Open(json container) {
    ++depth_;
    if (depth_ == 1) {
      root_object_ = container.is_object();
      return true;
    }
    if (depth_ == 2 && in_nodes_key_) {
      in_list_ = container.is_array();
      has_list_ = in_list_;
      return true;
    }
    if (depth_ == 3 && in_list_) {
      node_ = std::move(container);
      stack_.push_back(&node_);
      return true;
    }
    if (Building()) stack_.push_back(Add(std::move(container)));
    return true;
  }
  bool Close() {
    if (Building()) {
      stack_.pop_back();
      if (stack_.empty()) Decoded(node_);
    }
    if (depth_ == 2) in_list_ = false;
    --depth_;
    return true;
  }
  json* Add(json v) {
    json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    json& slot = top[key_];
    slot = std::move(v);
    return &slot;
  }
  void Decoded(const json& j) {
    if (node_error_) return;
    auto n = DecodeNode(j);
    if (!n) {
      node_error_ = n.error();
    } else if (!IsSafeName(n->name)) {
      node_error_ = MakeError(ErrorCode::kCorruption,
                              "unsafe entry name " + Printable(n->name));
    } else if (!tree_.nodes.empty() && !(tree_.nodes.back().name < n->name)) {
      node_error_ = MakeError(
          ErrorCode::kCorruption,
          "entries not sorted or duplicated at " + Printable(n->name));
    } else {
      tree_.nodes.push_back(std::move(*n));
    }
  }

  int depth_ = 0;
  bool root_object_ = false;
  bool in_nodes_key_ = false;
  bool in_list_ = false;
  bool has_list_ = false;
  std::string key_;
  json node_;
  std::vector<json*> stack_;
  Tree tree_;
  std::optional<Error> node_error_;
};

}  // namespace

Result<Tree> DecodeTree(ByteSpan data) {
  TreeDecoder decoder;
  bool parsed = json::sax_parse(data.begin(), data.end(), &decoder,
                                json::input_format_t::msgpack, true);
  return decoder.Finish(parsed);
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
