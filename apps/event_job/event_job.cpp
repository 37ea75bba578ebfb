#include "event_job/event_job.hpp"

#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <caf/make_message.hpp>
#include <fmt/format.h>

#include "event_job/event_aggregate.hpp"
#include "event_job/event_generator.hpp"
#include "event_job/event_partial.hpp"
#include "event_job/event_report.hpp"
#include "gasched/errc.hpp"
#include "gasched_run/cluster.hpp"
#include "gasched_run/options.hpp"
#include "gasched_run/progress.hpp"
#include "gasched_run/stop_signals.hpp"
#include "gasched_run/untrusted_text.hpp"

namespace gasched::run {

namespace {

namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;

// The data folder: the user's (kept), or a temporary one removed at the end
// unless --keep-data.
class data_folder {
public:
  explicit data_folder(const options& o) {
    if (!o.data_dir.empty()) {
      path_ = fs::absolute(o.data_dir).lexically_normal().string();
      keep_ = true;
    } else {
      auto tmp = fs::temp_directory_path() / "gasched-run-XXXXXX";
      std::string pattern = tmp.string();
      if (mkdtemp(pattern.data()) == nullptr)
        throw std::runtime_error("cannot create a temporary folder in "
                                 + fs::temp_directory_path().string());
      path_ = pattern;
      keep_ = o.keep_data;
    }
    fs::create_directories(events());
    fs::create_directories(partials());
  }

  ~data_folder() {
    if (!keep_) {
      std::error_code ignored;
      fs::remove_all(path_, ignored);
    }
  }

  const std::string& path() const {
    return path_;
  }

  std::string events() const {
    return path_ + "/events";
  }

  std::string partials() const {
    return path_ + "/partials";
  }

  bool kept() const {
    return keep_;
  }

private:
  std::string path_;
  bool keep_ = false;
};

std::string file_name(const std::string& path) {
  return fs::path{path}.filename().string();
}

// A run cut short: every task without a result is listed as unfinished.
int report_failure(const options& opts, progress& display, const event_job_summary& summary) {
  auto& run = *summary.run;
  if (opts.json)
    std::cout << dump_safely(event_failure_json(summary), 2) << std::endl;
  else
    print_event_failure(stdout, summary);
  display.error(fmt::format("the run could not complete: {} ({} of {} tasks done, {} "
                            "unfinished)",
                            run.fatal, run.succeeded + run.failed, run.total,
                            run.unfinished()));
  return 1;
}

// The data set, generated while the nodes boot; nullopt when interrupted.
std::optional<events::dataset> generate_data(const options& opts, const data_folder& folder,
                                             progress& display, stop_signals& signals) {
  auto generating = clock::now();
  auto data = events::generate(opts.data, folder.events(),
                               [&signals] { return signals.requested(); });
  if (signals.requested()) {
    display.error("interrupted while generating the data");
    return std::nullopt;
  }
  display.notice(fmt::format("generated {} game events ({} games, {} days) in {} batch "
                             "files, {:.1f} MB, in {:.2f} s: {}",
                             with_commas(data.lines), opts.data.games, opts.data.days,
                             data.batch_files.size(), data.bytes / 1e6,
                             seconds_since(generating), folder.events()));
  return data;
}

// One events.aggregate task per batch file.
std::vector<task> aggregate_tasks(const events::dataset& data) {
  std::vector<task> tasks;
  for (auto& batch : data.batch_files) {
    // Relative to the data folder: a remote node's --data-dir may be
    // mounted elsewhere.
    auto name = fs::path{batch}.filename().string();
    auto partial = "partials/" + fs::path{batch}.stem().string() + ".part";
    tasks.push_back(task{"events.aggregate", caf::make_message("events/" + name, partial), 0});
  }
  return tasks;
}

// The partials merged as they arrive: the summary is ready with the last
// result.
class partial_merge {
public:
  partial_merge(const events::dataset& data, progress& display)
    : finished(data.batch_files.size()), data_(data), display_(display) {
  }

  events::aggregate merged;
  std::map<std::string, uint64_t> events_by_node;
  std::vector<bool> finished;

  void add(size_t index, const task_result& r) {
    auto& batch = data_.batch_files[index];
    finished[index] = true;
    std::string why;
    if (r.ok()) {
      try {
        if (!r.value.match_elements<std::string>())
          throw std::invalid_argument("not a string");
        auto partial = events::decode_partial(r.value.get_as<std::string>(0));
        events_by_node[r.node] += partial.events;
        merged.merge(partial);
        return;
      } catch (const std::exception& e) {
        why = std::string{"its result is not an aggregate: "} + e.what();
      }
    } else {
      why = describe(r.error);
    }
    // A handful of failures is news; hundreds would flood the terminal.
    if (++failures_shown_ <= 10)
      display_.notice(fmt::format("{} failed{}: {}", file_name(batch),
                                  r.node.empty() ? "" : " on " + r.node, why));
  }

private:
  const events::dataset& data_;
  progress& display_;
  uint64_t failures_shown_ = 0;
};

// Fills summary.check: the same files, aggregated here in one pass with no
// merge; the distributed answer must be exactly this one. False when
// interrupted.
bool check_merged(const options& opts, progress& display, stop_signals& signals,
                  uint64_t failed, event_job_summary& summary) {
  using state = event_job_summary::check_state;
  auto& run = *summary.run;
  auto& data = *summary.data;
  if (failed > 0) {
    summary.check_detail = fmt::format("{} of {} tasks failed", failed, run.total);
  } else if (!opts.check) {
    summary.check_detail = "--no-check";
  } else {
    auto checking = clock::now();
    display.notice("checking: aggregating the " + std::to_string(data.batch_files.size())
                   + " files in this process");
    events::aggregate single;
    for (auto& batch : data.batch_files) {
      if (signals.requested())
        return false;
      single.merge(events::aggregate_file(batch));
    }
    auto difference = events::first_difference(*summary.merged, single);
    summary.check = difference.empty() ? state::passed : state::failed;
    summary.check_detail = difference;
    display.notice(fmt::format("checked in {:.2f} s", seconds_since(checking)));
  }
  return true;
}

// The summary printed; the exit code.
int report_summary(const options& opts, progress& display, uint64_t failed,
                   const event_job_summary& summary) {
  auto& run = *summary.run;
  if (opts.json)
    std::cout << dump_safely(event_summary_json(summary), 2) << std::endl;
  else
    print_event_summary(stdout, summary);

  if (failed > 0) {
    display.error(fmt::format("{} of {} tasks failed", failed, run.total));
    return 1;
  }
  if (summary.check == event_job_summary::check_state::failed) {
    display.error("the check failed: " + summary.check_detail);
    return 1;
  }
  return 0;
}

} // namespace

int run_event_job(const options& opts, progress& display, stop_signals& signals) {
  data_folder folder{opts};
  cluster c{opts, display, signals};
  // The nodes boot while the data is generated: both take a moment. They
  // may read and write only in the data folder.
  c.launch_nodes(folder.path());
  auto data = generate_data(opts, folder, display, signals);
  if (!data)
    return signals.exit_code();

  c.start();
  partial_merge results{*data, display};
  auto run = c.run(aggregate_tasks(*data),
                   [&results](size_t index, const task_result& r) { results.add(index, r); });
  c.shutdown();

  if (run.interrupted_by != 0) {
    display.error(fmt::format("interrupted: {} of {} tasks were done; the node processes "
                              "are stopped",
                              run.succeeded + run.failed, run.total));
    return signals.exit_code();
  }
  event_job_summary summary;
  summary.merged = &results.merged;
  summary.data = &*data;
  summary.data_dir = folder.path();
  summary.data_kept = folder.kept();
  summary.run = &run;
  summary.events_by_node = results.events_by_node;
  summary.where = c.description(run);
  if (!run.fatal.empty()) {
    for (size_t i = 0; i < results.finished.size(); ++i)
      if (!results.finished[i])
        summary.unfinished.push_back(file_name(data->batch_files[i]));
    return report_failure(opts, display, summary);
  }
  auto failed = run.total - results.merged.batches;  // a bad result counts too
  if (!check_merged(opts, display, signals, failed, summary))
    return signals.exit_code();
  return report_summary(opts, display, failed, summary);
}

} // namespace gasched::run
