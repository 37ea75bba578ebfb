// The one folder a node's file-touching task functions may read and write:
// `--data-dir DIR` of the node program (gasched::run_node). A task's paths
// come from whoever submitted it, so each is resolved (symlinks followed,
// `..` folded) and must land inside the folder; a node started without one
// refuses every such task.
#pragma once

#include <string>

#include <caf/actor_system_config.hpp>

namespace gasched::examples {

class data_dir {
public:
  /// No folder: resolve() refuses everything.
  data_dir() = default;

  /// `root` must name an existing folder; it is made canonical. Throws
  /// std::filesystem::filesystem_error otherwise.
  explicit data_dir(const std::string& root);

  /// The folder run_node was given (--data-dir), from the key it sets in the
  /// config before calling the node program's `configure`; none without it.
  static data_dir from(const caf::actor_system_config& cfg);

  bool empty() const noexcept {
    return root_.empty();
  }

  /// The canonical folder, or "".
  const std::string& root() const noexcept {
    return root_;
  }

  /// `path` (relative to the folder, or absolute) resolved: symlinks of its
  /// existing part followed, `.` and `..` folded. Throws
  /// gasched::permanent_failure, naming `fn` and the problem, when there is
  /// no folder or the result is outside it (or the folder itself).
  std::string resolve(const std::string& path, const std::string& fn) const;

private:
  std::string root_;
};

} // namespace gasched::examples
