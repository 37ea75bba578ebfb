#include "event_job/event_tasks.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "data_dir.hpp"
#include "event_job/event_aggregate.hpp"
#include "event_job/event_partial.hpp"

namespace gasched::examples {

namespace {

// Write-then-rename: readers see the old file or the new one, never half of
// one. The temporary name is unique per process and thread, so two copies of
// one task running at once (the lost-connection case) do not share it.
void write_atomically(const std::string& path, const std::string& content) {
  auto tmp = path + ".tmp." + std::to_string(getpid()) + "."
             + std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  {
    std::ofstream out{tmp, std::ios::binary | std::ios::trunc};
    out << content;
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw std::runtime_error("cannot write " + tmp);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw std::runtime_error("cannot rename " + tmp + " to " + path);
  }
}

} // namespace

void add_event_tasks(registry& reg, std::shared_ptr<const data_dir> data) {
  reg.add("events.aggregate", [data](const std::string& batch, const std::string& partial) {
    const std::string fn = "events.aggregate";
    auto folder = data ? *data : data_dir{};
    auto batch_path = folder.resolve(batch, fn);
    if (!std::filesystem::is_regular_file(batch_path))
      throw permanent_failure("no batch file " + batch);
    // Checked before the work: a refusal must not cost a whole aggregation.
    auto partial_path = partial.empty() ? std::string{} : folder.resolve(partial, fn);
    auto encoded = events::encode_partial(events::aggregate_file(batch_path));
    if (!partial_path.empty())
      write_atomically(partial_path, encoded);
    return encoded;
  });
}

} // namespace gasched::examples
