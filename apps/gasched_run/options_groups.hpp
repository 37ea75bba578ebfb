// Groups of gasched-run's options, kept out of options.cpp so that each
// file reads in one sitting.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "gasched_run/options.hpp"

namespace gasched::run {

/// --tasks' validator: anything readable as a stream, not a folder.
std::string check_task_file(std::string& path);

/// --max-pending and --ordered: how a task file streams through the run.
void add_stream_options(CLI::App& app, options& o, const std::string& group);

/// --http [HOST:]PORT, read into `text`; take_http() checks it after parsing.
CLI::Option* add_http_option(CLI::App& app, std::string& text, const std::string& group);

/// --http-name NAME...: Host names the dashboard answers to besides its address.
void add_http_names(CLI::App& app, options& o, const std::string& group);

/// Fills o.http_host and o.http_port from --http's text; throws
/// CLI::ValidationError when it is no address, or is beyond loopback
/// without --insecure (the dashboard has no authentication).
void take_http(options& o, const CLI::Option* opt, const std::string& text);

/// --batches, --games, --players, --days, --seed: the default job's data.
void add_data_set_options(CLI::App& app, options& o, const std::string& group);

/// -q, --json, --progress, --progress-every, --log; returns --log, whose
/// presence matters.
CLI::Option* add_output_options(CLI::App& app, options& o, const std::string& group);

} // namespace gasched::run
