#include "gasched_run/output_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "gasched_run/byte_hash.hpp"

namespace gasched::run {

namespace {

std::runtime_error os_error(const std::string& what, const std::string& path) {
  return std::runtime_error("cannot " + what + " " + path + " (--out): " + std::strerror(errno));
}

// The hash of the first `bytes` bytes of `fd`; fewer when the file is shorter.
byte_hash hash_prefix(int fd, uint64_t bytes, const std::string& path) {
  byte_hash h;
  std::vector<char> buf(size_t{1} << 20);
  while (h.bytes() < bytes) {
    auto want = static_cast<size_t>(std::min<uint64_t>(buf.size(), bytes - h.bytes()));
    auto n = ::read(fd, buf.data(), want);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      throw os_error("read", path);
    if (n == 0)
      break;
    h.add(buf.data(), static_cast<size_t>(n));
  }
  return h;
}

// Checks that `path` holds the `done` bytes a run wrote, and cuts it back to them.
void cut_back(const std::string& path, const written_output& done, const std::string& journal) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && done.bytes == 0)
    return;  // nothing was written yet: made anew
  if (fd < 0 && errno == ENOENT)
    throw std::runtime_error(path + " (--out) does not exist, and the run recorded in "
                             + journal + " wrote " + std::to_string(done.bytes)
                             + " bytes of results to its --out: give --out the file of that "
                               "run, or another --journal for a new run");
  if (fd < 0)
    throw os_error("open", path);
  struct stat st {};
  auto h = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? hash_prefix(fd, done.bytes, path)
                                                      : byte_hash{};
  auto ok = S_ISREG(st.st_mode) && h.bytes() == done.bytes && h.value() == done.hash;
  if (ok && ::ftruncate(fd, static_cast<off_t>(done.bytes)) != 0) {
    ::close(fd);
    throw os_error("cut back", path);
  }
  ::close(fd);
  if (!ok)
    throw std::runtime_error(
      path + " (--out) is not the output of the run recorded in " + journal + ": that run had "
      + "written " + std::to_string(done.bytes) + " bytes of results there, and the file "
      + (!S_ISREG(st.st_mode)                ? std::string{"is not a regular file"}
         : h.bytes() < done.bytes ? "holds only " + std::to_string(h.bytes())
                                  : std::string{"differs from them"})
      + "; nothing was changed. Give --out the file of that run, or another --journal for a "
        "new run");
}

} // namespace

file_ptr open_output(const std::string& path, const written_output* resumed,
                     const std::string& journal) {
  if (resumed)
    cut_back(path, *resumed, journal);
  else
    check_fresh_output(path, journal);
  // Appending: a resumed run writes on from the cut.
  file_ptr f{std::fopen(path.c_str(), resumed ? "a" : "w")};
  if (!f)
    throw os_error("open", path);
  return f;
}

void check_fresh_output(const std::string& path, const std::string& journal) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return;  // made anew
  if (!journal.empty() && !S_ISREG(st.st_mode))
    throw std::runtime_error(path + " (--out) is not a regular file: with --journal it must "
                                    "be one, since a resumed run cuts it back to what was "
                                    "written durably");
  if (S_ISREG(st.st_mode) && st.st_size > 0)
    throw std::runtime_error(
      path + " (--out) already holds " + std::to_string(st.st_size) + " bytes "
      + (journal.empty() ? std::string{"(perhaps an earlier run's results)"}
                         : "that " + journal + " has no record of writing")
      + ": gasched-run does not overwrite them. Remove the file or choose another --out");
}

} // namespace gasched::run
