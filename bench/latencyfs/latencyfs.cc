// latencyfs: a FUSE passthrough file system that behaves like a network file
// system (Amazon EFS, NFS) for benchmarks and tests.
//
//   latencyfs [--delay-us N] [--entry-timeout S] [--attr-timeout S] [--xattr]
//             [-f] [-o max_threads=64,clone_fd,...] SOURCE MOUNTPOINT
//
// Every request waits a fixed delay (default 1000 us) before it is served, like
// a network round trip, and many requests are served at once (a multi-threaded
// loop, 64 threads unless -o max_threads says otherwise), so a client that
// keeps many operations in flight is rewarded as it is on EFS. Requests are
// counted per type and per path. The counters are read through two files in the
// root that readdir does not list (so tools walking the tree never see them),
// and counters are reset by opening a third:
//
//   cat MOUNT/.latencyfs-stats    one JSON document: totals per operation type,
//                                 the largest number of requests in flight
//   cat MOUNT/.latencyfs-files    one line per path: counts per operation, then
//   path cat MOUNT/.latencyfs-reset    sets every counter to zero
//
// Reading these files costs no delay and is not counted.
//
// The file system is read-only. The kernel caches names and attributes for
// --entry-timeout and --attr-timeout seconds (default 1, close to the NFS
// client's attribute cache); 0 sends every path lookup and stat to the file
// system. readdir returns names only (no READDIRPLUS), so each stat of a listed
// name is one LOOKUP. Without --xattr, extended attributes are unsupported, as
// on EFS (NFS 4.1).
//
// Design: the low-level libfuse 3 API. Each inode the kernel knows is an Inode
// that holds the path it was first found under (relative to SOURCE) and a
// lookup count; the fuse inode number is the Inode's address. Inodes are shared
// by (st_dev, st_ino), so hard links map to one inode, and are freed when the
// kernel forgets them. Paths, not descriptors, so that a tree of millions of
// files needs no descriptor per file; the price is that renaming a directory in
// SOURCE while mounted confuses the inodes below it (benchmarks change files in
// place).
#define FUSE_USE_VERSION 312

#include <dirent.h>
#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

// Operation types, counted in totals; the first kPathOps are also counted per
// path.
enum Op : int {
  kLookup,
  kGetattr,
  kOpen,
  kRead,
  kOpendir,
  kReaddir,
  kReadlink,
  kListxattr,
  kGetxattr,
  kPathOps,  // the ones below are counted in totals only
  kRelease = kPathOps,
  kReleasedir,
  kForget,
  kStatfs,
  kAccess,
  kOther,
  kNumOps
};

constexpr std::array<const char*, kNumOps> kOpNames = {
    "lookup",     "getattr",  "open",      "read",     "opendir",
    "readdir",    "readlink", "listxattr", "getxattr", "release",
    "releasedir", "forget",   "statfs",    "access",   "other"};

struct PathCounters {
  std::array<std::atomic<std::uint32_t>, kPathOps> n{};
  char type = '?';  // f, d, l, o (other)
};

struct Inode {
  dev_t dev = 0;
  ino_t ino = 0;
  std::uint64_t nlookup = 0;  // guarded by Fs::mu
  PathCounters* counters = nullptr;
  std::string path;  // the first path it was found under, relative to SOURCE
  // The path for *at() calls relative to SOURCE.
  const char* rel() const { return path.empty() ? "." : path.c_str(); }
};

// Special inodes of the control files (an Inode's address is never this small).
constexpr fuse_ino_t kStatsIno = 2;
constexpr fuse_ino_t kFilesIno = 3;
constexpr fuse_ino_t kResetIno = 4;
constexpr std::array<std::pair<const char*, fuse_ino_t>, 3> kControlFiles = {
    {{".latencyfs-stats", kStatsIno},
     {".latencyfs-files", kFilesIno},
     {".latencyfs-reset", kResetIno}}};

struct Options {
  unsigned delay_us = 1000;
  double entry_timeout = 1.0;
  double attr_timeout = 1.0;
  bool xattr = false;
  std::string source;
};

struct Fs {
  Options opt;
  int source_fd = -1;  // O_PATH of SOURCE
  Inode root;
  std::mutex mu;
  std::map<std::pair<dev_t, ino_t>, Inode*> inodes;  // guarded by mu
  std::unordered_map<std::string, std::unique_ptr<PathCounters>>
      paths;  // by mu
  std::array<std::atomic<std::uint64_t>, kNumOps> totals{};
  std::atomic<std::uint64_t> in_flight{0};
  std::atomic<std::uint64_t> in_flight_max{0};
  unsigned max_threads = 64;
  std::atomic<bool> patch_init_reply{false};
};

Fs* g_fs = nullptr;

Inode& GetInode(fuse_ino_t ino) {
  if (ino == FUSE_ROOT_ID) return g_fs->root;
  return *reinterpret_cast<Inode*>(ino);
}

bool IsControl(fuse_ino_t ino) { return ino >= kStatsIno && ino <= kResetIno; }

// One request: counts it, keeps the in-flight gauge and waits the delay.
class Request {
 public:
  Request(Op op, const Inode* inode) {
    g_fs->totals[op].fetch_add(1, std::memory_order_relaxed);
    if (op < kPathOps && inode != nullptr && inode->counters != nullptr) {
      inode->counters->n[op].fetch_add(1, std::memory_order_relaxed);
    }
    std::uint64_t now = g_fs->in_flight.fetch_add(1) + 1;
    std::uint64_t max = g_fs->in_flight_max.load();
    while (now > max && !g_fs->in_flight_max.compare_exchange_weak(max, now)) {
    }
    if (g_fs->opt.delay_us > 0) {
      std::this_thread::sleep_for(
          std::chrono::microseconds(g_fs->opt.delay_us));
    }
  }
  ~Request() { g_fs->in_flight.fetch_sub(1); }
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
};

PathCounters* CountersFor(const std::string& path, mode_t mode) {
  std::lock_guard<std::mutex> lock(g_fs->mu);
  std::unique_ptr<PathCounters>& c = g_fs->paths[path];
  if (!c) {
    c = std::make_unique<PathCounters>();
    c->type = S_ISREG(mode)   ? 'f'
              : S_ISDIR(mode) ? 'd'
              : S_ISLNK(mode) ? 'l'
                              : 'o';
  }
  return c.get();
}

std::string ChildPath(const Inode& parent, const char* name) {
  return parent.path.empty() ? std::string(name) : parent.path + "/" + name;
}

std::string SourcePath(const Inode& inode) {
  return g_fs->opt.source + "/" + inode.path;
}

// ---- control files ----

std::string StatsJson() {
  std::string out =
      "{\"delay_us\":" + std::to_string(g_fs->opt.delay_us) +
      ",\"max_threads\":" + std::to_string(g_fs->max_threads) +
      ",\"in_flight_max\":" + std::to_string(g_fs->in_flight_max.load()) +
      ",\"ops\":{";
  std::uint64_t total = 0;
  for (int i = 0; i < kNumOps; ++i) {
    std::uint64_t n = g_fs->totals[i].load();
    total += n;
    out += std::string(i ? "," : "") + "\"" + kOpNames[i] +
           "\":" + std::to_string(n);
  }
  out += "},\"total\":" + std::to_string(total) + "}\n";
  return out;
}

std::string FilesTable() {
  std::string out = "type";
  for (int i = 0; i < kPathOps; ++i) out += std::string("\t") + kOpNames[i];
  out += "\tpath\n";
  std::lock_guard<std::mutex> lock(g_fs->mu);
  for (const auto& [path, c] : g_fs->paths) {
    out += c->type;
    for (int i = 0; i < kPathOps; ++i)
      out += "\t" + std::to_string(c->n[i].load());
    out += "\t" + (path.empty() ? std::string(".") : path) + "\n";
  }
  return out;
}

void ResetCounters() {
  for (auto& t : g_fs->totals) t.store(0);
  g_fs->in_flight_max.store(0);
  std::lock_guard<std::mutex> lock(g_fs->mu);
  for (auto& entry : g_fs->paths) {
    for (auto& n : entry.second->n) n.store(0);
  }
}

struct stat ControlAttr(fuse_ino_t ino) {
  struct stat st {};
  st.st_ino = ino;
  st.st_mode = S_IFREG | 0444;
  st.st_nlink = 1;
  return st;
}

// ---- operations ----

void FsInit(void*, struct fuse_conn_info* conn) {
  // Names only from readdir: each stat of a listed name is a LOOKUP we can
  // count.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_READDIRPLUS);
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_READDIRPLUS_AUTO);
  // Lookups and readdirs in one directory run in parallel, as on NFS (without
  // this the kernel serializes them per directory). libfuse 3.14 leaves the
  // flag out of its answer whatever `want` says, so PatchingWritev adds it.
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) {
    conn->want |= FUSE_CAP_PARALLEL_DIROPS;
    g_fs->patch_init_reply.store(true);
  }
  // Many asynchronous requests (readahead) in flight, as on NFS.
  conn->max_background = 64;
  conn->congestion_threshold = 48;
}

void FsLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Inode& dir = GetInode(parent);
  if (parent == FUSE_ROOT_ID) {
    for (const auto& [control_name, ino] : kControlFiles) {
      if (std::strcmp(name, control_name) == 0) {
        struct fuse_entry_param e {};
        e.ino = ino;
        e.attr = ControlAttr(ino);
        fuse_reply_entry(req, &e);
        return;
      }
    }
  }
  std::string path = ChildPath(dir, name);
  // Counted per path below, once the object is known.
  Request r(kLookup, nullptr);
  struct fuse_entry_param e {};
  if (::fstatat(g_fs->source_fd, path.c_str(), &e.attr, AT_SYMLINK_NOFOLLOW) !=
      0) {
    fuse_reply_err(req, errno);
    return;
  }
  // A lookup is the stat of the named object: it counts against the child's
  // path.
  PathCounters* counters = CountersFor(path, e.attr.st_mode);
  counters->n[kLookup].fetch_add(1, std::memory_order_relaxed);
  Inode* inode = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_fs->mu);
    Inode*& slot = g_fs->inodes[{e.attr.st_dev, e.attr.st_ino}];
    if (slot == nullptr) {
      slot = new Inode;
      slot->dev = e.attr.st_dev;
      slot->ino = e.attr.st_ino;
      slot->counters = counters;
      slot->path = path;
    }
    inode = slot;
    ++inode->nlookup;
  }
  e.ino = reinterpret_cast<fuse_ino_t>(inode);
  e.attr_timeout = g_fs->opt.attr_timeout;
  e.entry_timeout = g_fs->opt.entry_timeout;
  fuse_reply_entry(req, &e);
}

void Forget(fuse_ino_t ino, std::uint64_t n) {
  if (ino == FUSE_ROOT_ID || IsControl(ino)) return;
  Inode& inode = GetInode(ino);
  std::lock_guard<std::mutex> lock(g_fs->mu);
  inode.nlookup -= n < inode.nlookup ? n : inode.nlookup;
  if (inode.nlookup == 0) {
    g_fs->inodes.erase({inode.dev, inode.ino});
    delete &inode;
  }
}

void FsForget(fuse_req_t req, fuse_ino_t ino, std::uint64_t nlookup) {
  g_fs->totals[kForget].fetch_add(1, std::memory_order_relaxed);
  Forget(ino, nlookup);
  fuse_reply_none(req);
}

void FsForgetMulti(fuse_req_t req, size_t count,
                   struct fuse_forget_data* forgets) {
  g_fs->totals[kForget].fetch_add(count, std::memory_order_relaxed);
  for (size_t i = 0; i < count; ++i) Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void FsGetattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info*) {
  if (IsControl(ino)) {
    struct stat st = ControlAttr(ino);
    fuse_reply_attr(req, &st, 0);
    return;
  }
  Inode& inode = GetInode(ino);
  Request r(kGetattr, &inode);
  struct stat st {};
  if (::fstatat(g_fs->source_fd, inode.rel(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_attr(req, &st, g_fs->opt.attr_timeout);
}

void FsReadlink(fuse_req_t req, fuse_ino_t ino) {
  Inode& inode = GetInode(ino);
  Request r(kReadlink, &inode);
  std::vector<char> buf(PATH_MAX + 1);
  ssize_t n =
      ::readlinkat(g_fs->source_fd, inode.rel(), buf.data(), buf.size() - 1);
  if (n < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  buf[static_cast<size_t>(n)] = '\0';
  fuse_reply_readlink(req, buf.data());
}

// An open directory: a DIR stream and the entry that did not fit the last
// reply.
struct DirHandle {
  DIR* dir = nullptr;
  off_t offset = 0;  // the offset the next entry of the stream has
  struct dirent* pending = nullptr;
};

void FsOpendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Inode& inode = GetInode(ino);
  Request r(kOpendir, &inode);
  int fd = ::openat(g_fs->source_fd, inode.rel(),
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  auto* h = new DirHandle;
  h->dir = ::fdopendir(fd);
  if (h->dir == nullptr) {
    int err = errno;
    ::close(fd);
    delete h;
    fuse_reply_err(req, err);
    return;
  }
  fi->fh = reinterpret_cast<std::uint64_t>(h);
  if (fuse_reply_open(req, fi) != 0) {
    ::closedir(h->dir);
    delete h;
  }
}

void FsReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
               struct fuse_file_info* fi) {
  Inode& inode = GetInode(ino);
  Request r(kReaddir, &inode);
  auto* h = reinterpret_cast<DirHandle*>(fi->fh);
  if (offset != h->offset) {
    ::seekdir(h->dir, offset);
    h->offset = offset;
    h->pending = nullptr;
  }
  std::vector<char> buf(size);
  size_t used = 0;
  while (true) {
    struct dirent* d = h->pending;
    if (d == nullptr) {
      errno = 0;
      d = ::readdir(h->dir);
      if (d == nullptr) {
        if (errno != 0 && used == 0) {
          fuse_reply_err(req, errno);
          return;
        }
        break;
      }
    }
    h->pending = nullptr;
    struct stat st {};
    st.st_ino = d->d_ino;
    st.st_mode = static_cast<mode_t>(d->d_type) << 12;
    size_t want = fuse_add_direntry(req, buf.data() + used, size - used,
                                    d->d_name, &st, d->d_off);
    if (want > size - used) {
      h->pending = d;  // the next call sends it
      break;
    }
    used += want;
    h->offset = d->d_off;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void FsReleasedir(fuse_req_t req, fuse_ino_t, struct fuse_file_info* fi) {
  g_fs->totals[kReleasedir].fetch_add(1, std::memory_order_relaxed);
  auto* h = reinterpret_cast<DirHandle*>(fi->fh);
  ::closedir(h->dir);
  delete h;
  fuse_reply_err(req, 0);
}

void FsOpen(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  if (IsControl(ino)) {
    std::string text;
    if (ino == kStatsIno) text = StatsJson();
    if (ino == kFilesIno) text = FilesTable();
    if (ino == kResetIno) {
      ResetCounters();
      text = "reset\n";
    }
    fi->fh = reinterpret_cast<std::uint64_t>(new std::string(std::move(text)));
    fi->direct_io = 1;
    fuse_reply_open(req, fi);
    return;
  }
  Inode& inode = GetInode(ino);
  Request r(kOpen, &inode);
  if ((fi->flags & O_ACCMODE) != O_RDONLY) {
    fuse_reply_err(req, EROFS);
    return;
  }
  int flags = fi->flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL | O_TRUNC);
  int fd =
      ::openat(g_fs->source_fd, inode.rel(), flags | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fi->fh = static_cast<std::uint64_t>(fd);
  fi->keep_cache = 0;
  if (fuse_reply_open(req, fi) != 0) ::close(fd);
}

void FsRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
            struct fuse_file_info* fi) {
  if (IsControl(ino)) {
    const auto* text = reinterpret_cast<const std::string*>(fi->fh);
    size_t off = static_cast<size_t>(offset);
    if (off >= text->size()) {
      fuse_reply_buf(req, nullptr, 0);
    } else {
      fuse_reply_buf(req, text->data() + off,
                     std::min(size, text->size() - off));
    }
    return;
  }
  Inode& inode = GetInode(ino);
  Request r(kRead, &inode);
  struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
  buf.buf[0].flags =
      static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  buf.buf[0].fd = static_cast<int>(fi->fh);
  buf.buf[0].pos = offset;
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void FsRelease(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  if (IsControl(ino)) {
    delete reinterpret_cast<std::string*>(fi->fh);
  } else {
    g_fs->totals[kRelease].fetch_add(1, std::memory_order_relaxed);
    ::close(static_cast<int>(fi->fh));
  }
  fuse_reply_err(req, 0);
}

void FsStatfs(fuse_req_t req, fuse_ino_t) {
  Request r(kStatfs, nullptr);
  struct statvfs st {};
  if (::fstatvfs(g_fs->source_fd, &st) != 0) {
    fuse_reply_err(req, errno);
    return;
  }
  fuse_reply_statfs(req, &st);
}

void FsListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Inode& inode = GetInode(ino);
  Request r(kListxattr, &inode);
  if (!g_fs->opt.xattr) {
    fuse_reply_err(req, ENOSYS);  // the kernel stops asking
    return;
  }
  std::string p = SourcePath(inode);
  std::vector<char> buf(size);
  ssize_t n = ::llistxattr(p.c_str(), size ? buf.data() : nullptr, size);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else if (size == 0) {
    fuse_reply_xattr(req, static_cast<size_t>(n));
  } else {
    fuse_reply_buf(req, buf.data(), static_cast<size_t>(n));
  }
}

void FsGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Inode& inode = GetInode(ino);
  Request r(kGetxattr, &inode);
  if (!g_fs->opt.xattr) {
    fuse_reply_err(req, ENOSYS);
    return;
  }
  std::string p = SourcePath(inode);
  std::vector<char> buf(size);
  ssize_t n = ::lgetxattr(p.c_str(), name, size ? buf.data() : nullptr, size);
  if (n < 0) {
    fuse_reply_err(req, errno);
  } else if (size == 0) {
    fuse_reply_xattr(req, static_cast<size_t>(n));
  } else {
    fuse_reply_buf(req, buf.data(), static_cast<size_t>(n));
  }
}

void FsAccess(fuse_req_t req, fuse_ino_t, int) {
  // Permissions are checked by the kernel (default_permissions).
  g_fs->totals[kAccess].fetch_add(1, std::memory_order_relaxed);
  fuse_reply_err(req, ENOSYS);
}

// ---- I/O on /dev/fuse: the system calls, and the INIT answer amended ----

// The answer to INIT is the first one written after FsInit ran: a
// fuse_out_header (16 bytes), then fuse_init_out, whose fourth 32-bit word
// holds the flags.
constexpr std::uint32_t kKernelParallelDirops = 1u
                                                << 18;  // FUSE_PARALLEL_DIROPS

ssize_t PatchingWritev(int fd, struct iovec* iov, int count, void*) {
  if (g_fs->patch_init_reply.exchange(false) && count >= 2 &&
      iov[1].iov_len >= 16) {
    std::uint32_t flags = 0;
    auto* words = static_cast<unsigned char*>(iov[1].iov_base);
    std::memcpy(&flags, words + 12, sizeof(flags));
    flags |= kKernelParallelDirops;
    std::memcpy(words + 12, &flags, sizeof(flags));
  }
  return ::writev(fd, iov, count);
}

ssize_t PlainRead(int fd, void* buf, size_t len, void*) {
  return ::read(fd, buf, len);
}

ssize_t PlainSplice(int fdin, off_t* offin, int fdout, off_t* offout,
                    size_t len, unsigned int flags, void*) {
  return ::splice(fdin, offin, fdout, offout, len, flags);
}

[[noreturn]] void Usage(const char* msg) {
  if (msg != nullptr) std::fprintf(stderr, "latencyfs: %s\n", msg);
  std::fprintf(
      stderr,
      "usage: latencyfs [--delay-us N] [--entry-timeout S] [--attr-timeout S] "
      "[--xattr] [-f] [-o OPT,...] SOURCE MOUNTPOINT\n");
  std::exit(2);
}

double ParseSeconds(const char* s) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || v < 0) Usage("bad number of seconds");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Fs fs;
  g_fs = &fs;
  // Our options are taken out; the rest (and MOUNTPOINT) goes to libfuse.
  std::vector<char*> fuse_argv = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& name) -> const char* {
      if (a == name) {
        if (i + 1 >= argc) Usage(("missing value of " + name).c_str());
        return argv[++i];
      }
      if (a.rfind(name + "=", 0) == 0) return argv[i] + name.size() + 1;
      return nullptr;
    };
    if (const char* v = value("--delay-us")) {
      fs.opt.delay_us = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
    } else if (const char* t = value("--entry-timeout")) {
      fs.opt.entry_timeout = ParseSeconds(t);
    } else if (const char* u = value("--attr-timeout")) {
      fs.opt.attr_timeout = ParseSeconds(u);
    } else if (a == "--xattr") {
      fs.opt.xattr = true;
    } else if (a == "-o" && i + 1 < argc) {
      fuse_argv.push_back(argv[i]);
      fuse_argv.push_back(argv[++i]);
    } else if (a[0] != '-' && fs.opt.source.empty()) {
      fs.opt.source = a;
    } else {
      fuse_argv.push_back(argv[i]);
    }
  }
  if (fs.opt.source.empty()) Usage("SOURCE is missing");
  // Open files and directories of many clients at once: the soft limit of 1024
  // can be too few.
  struct rlimit nofile {};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  fs.source_fd =
      ::open(fs.opt.source.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fs.source_fd < 0) {
    std::fprintf(stderr, "latencyfs: %s: %s\n", fs.opt.source.c_str(),
                 std::strerror(errno));
    return 1;
  }
  fs.root.nlookup = 1;
  fs.root.counters = CountersFor("", S_IFDIR);

  struct fuse_args args =
      FUSE_ARGS_INIT(static_cast<int>(fuse_argv.size()), fuse_argv.data());
  struct fuse_cmdline_opts cmd {};
  if (fuse_parse_cmdline(&args, &cmd) != 0) return 2;
  if (cmd.show_help || cmd.show_version || cmd.mountpoint == nullptr) {
    if (cmd.show_help) fuse_cmdline_help();
    if (cmd.show_version) fuse_lowlevel_version();
    if (cmd.mountpoint == nullptr && !cmd.show_help && !cmd.show_version) {
      Usage("MOUNTPOINT is missing");
    }
    return 0;
  }
  // The default of libfuse (10 threads) is far fewer requests in flight than
  // NFS allows.
  bool threads_given = false;
  for (const char* a : fuse_argv) {
    if (std::strstr(a, "max_threads=") != nullptr) threads_given = true;
  }
  fs.max_threads = threads_given ? cmd.max_threads : 64;
  fuse_opt_add_arg(&args, "-o");
  fuse_opt_add_arg(&args,
                   "ro,default_permissions,fsname=latencyfs,subtype=latencyfs");

  struct fuse_lowlevel_ops ops {};
  ops.init = FsInit;
  ops.lookup = FsLookup;
  ops.forget = FsForget;
  ops.forget_multi = FsForgetMulti;
  ops.getattr = FsGetattr;
  ops.readlink = FsReadlink;
  ops.opendir = FsOpendir;
  ops.readdir = FsReaddir;
  ops.releasedir = FsReleasedir;
  ops.open = FsOpen;
  ops.read = FsRead;
  ops.release = FsRelease;
  ops.statfs = FsStatfs;
  ops.listxattr = FsListxattr;
  ops.getxattr = FsGetxattr;
  ops.access = FsAccess;

  int rc = 1;
  struct fuse_session* se = fuse_session_new(&args, &ops, sizeof(ops), &fs);
  if (se != nullptr) {
    if (fuse_set_signal_handlers(se) == 0) {
      struct fuse_custom_io io {};
      io.writev = PatchingWritev;
      io.read = PlainRead;
      io.splice_receive = PlainSplice;
      io.splice_send = PlainSplice;
      if (fuse_session_mount(se, cmd.mountpoint) == 0 &&
          fuse_session_custom_io(se, &io, fuse_session_fd(se)) == 0) {
        fuse_daemonize(cmd.foreground);
        struct fuse_loop_config* cfg = fuse_loop_cfg_create();
        fuse_loop_cfg_set_clone_fd(cfg, static_cast<unsigned>(cmd.clone_fd));
        fuse_loop_cfg_set_max_threads(cfg, fs.max_threads);
        // Keep the threads: spawning one per burst would add latency of its
        // own.
        fuse_loop_cfg_set_idle_threads(cfg, fs.max_threads);
        rc = cmd.singlethread ? fuse_session_loop(se)
                              : fuse_session_loop_mt(se, cfg);
        fuse_loop_cfg_destroy(cfg);
        fuse_session_unmount(se);
      }
      fuse_remove_signal_handlers(se);
    }
    fuse_session_destroy(se);
  }
  free(cmd.mountpoint);
  fuse_opt_free_args(&args);
  return rc == 0 ? 0 : 1;
}
