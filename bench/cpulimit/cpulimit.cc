// cpulimit: the CPU limit of a backup, measured on the data itself.
//
// Runs efs2s3's per-chunk work on every core, over files already in the page
// cache: content-defined chunking, the keyed blob ID (HMAC-SHA-256), dedup
// against the IDs seen so far, the incompressibility check, zstd at the
// repository's level and AES-256-GCM. No reads from the network, no uploads.
// The rate it prints is what a backup could reach if reading and uploading
// were free: the "hash + compress + encrypt on all cores" limit of
// bench/run.sh.
//
// Usage: cpulimit [--threads N] [--level L] FILE...   (FILE "-": one path per
// line on standard input)
// Output: "<MB/s of input> <input bytes> <seconds> <stored bytes>"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/file_util.h"
#include "codec/chunker.h"
#include "codec/compress.h"
#include "crypto/crypto.h"

namespace {

using namespace efs2s3;

// Files are cut into segments that the threads take in turn; each segment is
// chunked on its own (boundaries near segment edges differ from a whole-file
// pass, which does not change the rate).
constexpr std::uint64_t kSegment = 64ull << 20;

struct Segment {
  std::string path;
  std::uint64_t offset, length;
};

}  // namespace

int main(int argc, char** argv) {
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  int level = 3;
  std::vector<Segment> segments;
  std::vector<std::string> paths;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (a == "--level" && i + 1 < argc) {
      level = std::atoi(argv[++i]);
    } else {
      paths.push_back(a);
    }
  }
  if (paths.size() == 1 && paths[0] == "-") {  // one path per line on stdin
    paths.clear();
    char line[4096];
    while (std::fgets(line, sizeof line, stdin)) {
      std::string p = line;
      if (!p.empty() && p.back() == '\n') p.pop_back();
      if (!p.empty()) paths.push_back(p);
    }
  }
  for (const std::string& a : paths) {
    struct stat st {};
    if (::stat(a.c_str(), &st) != 0) {
      std::fprintf(stderr, "cpulimit: %s: %s\n", a.c_str(),
                   std::strerror(errno));
      return 1;
    }
    std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    for (std::uint64_t off = 0; off < size; off += kSegment)
      segments.push_back({a, off, std::min(kSegment, size - off)});
  }
  if (segments.empty()) {
    std::fprintf(stderr, "usage: cpulimit [--threads N] [--level L] FILE...\n");
    return 2;
  }
  threads = std::max(1, threads);
  Bytes seed = RandomBytes(32);
  codec::GearTable gear = codec::MakeGearTable(seed);
  codec::Chunker chunker({}, gear);
  Bytes hmac_key = RandomBytes(32);
  crypto::Key key{};
  Bytes kb = RandomBytes(key.size());
  std::copy(kb.begin(), kb.end(), key.begin());

  std::mutex mu;
  std::set<crypto::Digest> seen;
  std::atomic<size_t> next{0};
  std::atomic<std::uint64_t> input{0}, stored{0};
  std::atomic<bool> failed{false};
  auto start = std::chrono::steady_clock::now();
  auto worker = [&] {
    Bytes buf;
    for (size_t i = next++; i < segments.size(); i = next++) {
      const Segment& s = segments[i];
      int fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        failed = true;
        return;
      }
      buf.resize(s.length);
      size_t got = 0;
      while (got < s.length) {
        ssize_t n = ::pread(fd, buf.data() + got, s.length - got,
                            static_cast<off_t>(s.offset + got));
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      ::close(fd);
      ByteSpan rest(buf.data(), got);
      while (!rest.empty()) {
        size_t cut = chunker.NextCut(rest, true);
        ByteSpan chunk = rest.first(cut);
        rest = rest.subspan(cut);
        crypto::Digest id = crypto::HmacSha256(hmac_key, chunk);
        input += cut;
        {
          std::lock_guard lock(mu);
          if (!seen.insert(id).second) continue;
        }
        Bytes z;
        if (!codec::LooksIncompressible(chunk))
          z = codec::Compress(chunk, level);
        bool use = !z.empty() && z.size() < chunk.size();
        Bytes sealed = crypto::Seal(key, use ? ByteSpan(z) : chunk);
        stored += sealed.size();
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (failed) {
    std::fprintf(stderr, "cpulimit: cannot open an input file\n");
    return 1;
  }
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("%.1f %llu %.3f %llu\n", input.load() / secs / 1e6,
              static_cast<unsigned long long>(input.load()), secs,
              static_cast<unsigned long long>(stored.load()));
  return 0;
}
