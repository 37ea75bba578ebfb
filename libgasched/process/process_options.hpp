// The process settings on a command line (CLI11): each option declared once,
// with its range and help, for every gasched program. A program adds the
// groups it takes and checks them after parsing.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "process_settings.hpp"

namespace gasched {

/// --heartbeat MS (10..60000) and --heartbeat-timeout MS (0..3600000).
void add_heartbeat_options(CLI::App& app, process_settings& s, const std::string& group = {});

/// --tls DIR.
void add_tls_option(CLI::App& app, process_settings& s, const std::string& group = {});

/// --tls DIR and --insecure, for a program that listens.
void add_trust_options(CLI::App& app, process_settings& s, const std::string& group = {});

/// --threads N (1..64), defaulting to s.threads.
void add_threads_option(CLI::App& app, process_settings& s, const std::string& group = {});

/// --log LEVEL, defaulting to s.log; returns it (its presence may matter).
CLI::Option* add_log_option(CLI::App& app, process_settings& s, const std::string& group = {});

/// After parsing: --heartbeat-timeout must be longer than --heartbeat (or
/// 0). Throws CLI::ValidationError.
void check_heartbeats(const process_settings& s);

/// After parsing an app with allow_extras(): keeps the --caf#key=value
/// arguments in s.caf_args; any other extra argument is a usage error.
/// Throws CLI::ExtrasError.
void take_caf_args(const CLI::App& app, process_settings& s);

/// Checks s.caf_args with CAF now, before any work (a misspelled key must
/// not surface after minutes of it). Not for a program whose own setup
/// declares CAF options (a node program's `configure`): CAF would not know
/// them yet. Throws CLI::ValidationError.
void check_caf_args(const process_settings& s);

/// Refuses (CLI::ValidationError naming `option`) to listen on `host`
/// beyond loopback in plain text unless --insecure; `can` says what anyone
/// who reaches the port could then do ("submit tasks to your nodes").
void check_exposure(const process_settings& s, const std::string& option,
                    const std::string& host, const std::string& can);

} // namespace gasched
