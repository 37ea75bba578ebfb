// --out FILE: where the result lines go instead of stdout. A file that
// already holds anything is never overwritten unless a journal's checkpoint
// says what it holds (journal_checkpoint.hpp): results of an earlier run
// are not lost to a repeated command.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "gasched_run/result_writer.hpp"

namespace gasched::run {

struct file_closer {
  void operator()(std::FILE* f) const noexcept {
    std::fclose(f);
  }
};
using file_ptr = std::unique_ptr<std::FILE, file_closer>;

/// Refuses (std::runtime_error naming the file) a `path` that holds
/// anything, for a run without a record of writing it.
void check_fresh_output(const std::string& path, const std::string& journal);

/// Opens `path` for a run's results. With `resumed` null (a fresh run) the
/// file must be missing or empty; else it must hold what `resumed` says its
/// first bytes are, and is cut back to them. `journal` names the journal
/// in errors ("" without one). Throws std::runtime_error naming the file.
file_ptr open_output(const std::string& path, const written_output* resumed,
                     const std::string& journal);

} // namespace gasched::run
