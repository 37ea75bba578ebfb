#include "data_dir.hpp"

#include <filesystem>
#include <system_error>

#include <caf/settings.hpp>

#include "gasched/registry.hpp"

namespace gasched::examples {

namespace fs = std::filesystem;

data_dir::data_dir(const std::string& root) {
  auto canonical = fs::canonical(root);
  if (!fs::is_directory(canonical))
    throw fs::filesystem_error("not a folder", canonical,
                               std::make_error_code(std::errc::not_a_directory));
  root_ = canonical.string();
}

data_dir data_dir::from(const caf::actor_system_config& cfg) {
  // The key run_node.cpp sets (it checked the folder then).
  auto root = caf::get_or(cfg, "gasched.data-dir", std::string{});
  return root.empty() ? data_dir{} : data_dir{root};
}

std::string data_dir::resolve(const std::string& path, const std::string& fn) const {
  if (root_.empty())
    throw permanent_failure(fn + " reads and writes files, and this node has no data "
                                 "folder: start it with --data-dir DIR");
  fs::path given{path};
  // weakly_canonical follows every symlink of the part that exists, so a
  // link inside the folder that points out of it is caught here.
  std::error_code ec;
  auto resolved = fs::weakly_canonical(given.is_absolute() ? given : fs::path{root_} / given, ec);
  if (ec)
    throw permanent_failure(fn + ": cannot resolve " + path + ": " + ec.message());
  // Compared component by component: "/data-other" is not inside "/data".
  fs::path root{root_};
  auto r = root.begin();
  auto p = resolved.begin();
  for (; r != root.end() && p != resolved.end(); ++r, ++p)
    if (*r != *p)
      break;
  if (r != root.end() || p == resolved.end())
    throw permanent_failure(fn + ": " + path + " is outside this node's data folder " + root_);
  return resolved.string();
}

} // namespace gasched::examples
