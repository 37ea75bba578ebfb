// gasched-bench: every figure of docs/benchmarks.md's results table, with its spread,
// printed as a table and written as JSON with the machine and the commit.
//
// Each scenario has the shape of the reference measurements of gascheduler:
// this process is the scheduler (and the client); 2 gasched-node processes on
// 127.0.0.1 run the tasks, 10 slots each; the task is an identity on an int32.
// Dispatch scaling uses in-process nodes that answer at once, to measure the
// scheduler's own cost. Figures are medians of --repeat runs (default 3), with
// the lowest and highest run as the spread. One file per scenario.
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <utility>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "journal/pg_db.hpp"
#include "scenarios.hpp"

using namespace gasched::bench;

namespace {

// In the order they run and print.
const std::vector<std::pair<std::string, void (*)(context&)>> scenarios{
  {"throughput", throughput}, {"latency", latency}, {"memory", memory},
  {"scaling", scaling},       {"failover", failover}, {"journal", journal},
  {"dashboard", dashboard},   {"tls", tls},           {"core", core},           {"idle", idle},
  {"nodes", many_nodes},      {"remote", remote},
};

std::string scenario_names() {
  std::string names;
  for (auto& [name, fn] : scenarios)
    names += (names.empty() ? "" : ", ") + name;
  return names;
}

// Fills `opts`; false, with the exit code, on --help or a usage error.
bool parse_command_line(int argc, char** argv, options& opts, int& exit_code) {
  CLI::App app{"gasched-bench: throughput, latency, memory, dispatch scaling and "
               "failover of gasched, beside gascheduler's reference figures."};
  opts.apps_dir = self_dir() + "/../apps";
  // The test node: the scenarios run test.* functions, which the stock node lacks.
  opts.node_program = opts.apps_dir + "/gasched-test-node";
  opts.core_bench = self_dir() + "/gasched-core-bench";
  auto names = scenario_names();
  app.add_flag("--quick", opts.quick, "small sizes: checks that it runs, measures nothing");
  app.add_option("--repeat", opts.repeat, "runs per figure")->check(CLI::Range(1, 20))
    ->capture_default_str();
  app.add_option("--json", opts.json_path, "where the figures go")->capture_default_str();
  app.add_option("--node-program", opts.node_program, "gasched-test-node to start")
    ->capture_default_str();
  app.add_option("--core-bench", opts.core_bench, "gasched-core-bench to run")
    ->capture_default_str();
  app.add_option("--only", opts.only, "scenarios to run: " + names);
  app.add_option("--policy", opts.policy, "CAF scheduler policy of every process")
    ->check(CLI::IsMember({"sharing", "stealing"}))
    ->capture_default_str();
  app.add_option("--threads", opts.threads,
                 "CAF worker threads of every process (scheduler.max-threads); 0: as "
                 "configured")
    ->capture_default_str();
  app.add_option("--caf", opts.caf,
                 "KEY=VALUE: a CAF option of every process, as --caf#KEY=VALUE (e.g. "
                 "gasched.thread-spin=0us)");
  app.add_option("--pg-url", opts.pg_url,
                 "the journal scenario's PostgreSQL database (postgresql://...), whose "
                 "gasched tables each run drops: give it a throw-away one. Without it, "
                 "the scenario starts a throw-away server of its own if PostgreSQL's "
                 "programs are installed, and skips PostgreSQL if not");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e);
    return false;
  }
  for (auto& name : opts.only)
    if (std::none_of(scenarios.begin(), scenarios.end(),
                     [&](auto& s) { return s.first == name; })) {
      std::cerr << "gasched-bench: no scenario " << name << "; there are " << names << "\n";
      exit_code = 2;
      return false;
    }
  return true;
}

// The scenarios --only names (all by default), in order; false when one threw.
bool run_scenarios(context& ctx, const options& opts) {
  try {
    for (auto& [name, run] : scenarios)
      if (opts.only.empty()
          || std::find(opts.only.begin(), opts.only.end(), name) != opts.only.end())
        run(ctx);
  } catch (const std::exception& e) {
    std::cerr << "gasched-bench: " << e.what() << "\n";
    return false;
  }
  return true;
}

// The commit measured, "-dirty" when the code is not all committed.
std::string source_commit() {
  auto commit = run_command(std::string{"git -C "} + GASCHED_SOURCE_DIR
                            + " rev-parse --short HEAD 2>/dev/null");
  if (!commit.empty()
      && !run_command(std::string{"git -C "} + GASCHED_SOURCE_DIR
                      + " status --porcelain --untracked-files=no 2>/dev/null")
            .empty())
    commit += "-dirty";  // the figures are of uncommitted code
  return commit.empty() ? "unknown" : commit;
}

nlohmann::json figures_json(const std::string& command, const options& opts,
                            const std::vector<figure>& figures) {
  utsname uts{};
  uname(&uts);
  nlohmann::json out;
  out["command"] = command;
  out["quick"] = opts.quick;
  out["machine"] = {{"cores", sysconf(_SC_NPROCESSORS_ONLN)},
                    {"cpu", cpu_model()},
                    {"kernel", std::string{uts.sysname} + " " + uts.release},
                    {"caf_policy", opts.policy},
                    {"caf_threads", opts.threads}};
  out["commit"] = source_commit();
  for (auto& f : figures)
    out["figures"].push_back({{"scenario", f.scenario},
                              {"name", f.name},
                              {"unit", f.unit},
                              {"median", f.median()},
                              {"min", f.low()},
                              {"max", f.high()},
                              {"runs", f.runs},
                              {"gascheduler", f.reference},
                              {"note", f.note}});
  return out;
}

// The figures as a Markdown table on stdout (docs/benchmarks.md's comes from the JSON).
void print_table(const nlohmann::json& out, const std::string& command,
                 const std::vector<figure>& figures) {
  std::cout << "gasched-bench, commit " << out["commit"].get<std::string>() << ", "
            << sysconf(_SC_NPROCESSORS_ONLN) << " cores, " << cpu_model() << "\n"
            << "command: " << command << "\n\n"
            << "| scenario | figure | gasched (median) | spread (min-max) | gascheduler |\n"
            << "|---|---|---|---|---|\n";
  for (auto& f : figures)
    std::cout << "| " << f.scenario << " | " << f.name << " | " << fmt_value(f.median())
              << " " << f.unit << " | " << fmt_value(f.low()) << "-" << fmt_value(f.high())
              << " | " << f.reference << " |\n";
}

} // namespace

int main(int argc, char** argv) {
  options opts;
  int exit_code = 0;
  if (!parse_command_line(argc, argv, opts, exit_code))
    return exit_code;
  gasched::set_log_level(gasched::log_level::error);
  std::string command;
  for (int i = 0; i < argc; ++i)
    command += (i > 0 ? " " : "") + gasched::detail::redact_pg_url(argv[i]);

  caf::actor_system_config cfg;
  gasched::init(cfg);
  cfg.set("scheduler.policy", caf::atom_from_string(opts.policy));
  if (opts.threads > 0)
    cfg.set("scheduler.max-threads", opts.threads);
  if (!opts.caf.empty()) {
    std::vector<std::string> args;
    for (auto& kv : opts.caf)
      args.push_back("--caf#" + kv);
    std::istringstream no_ini;
    if (auto err = cfg.parse(args, no_ini)) {
      std::cerr << "gasched-bench: --caf: " << cfg.render(err) << "\n";
      return 1;
    }
  }
  caf::actor_system sys{cfg};

  std::vector<figure> figures;
  context ctx{sys, opts, opts.quick ? 1 : opts.repeat, figures};
  if (!run_scenarios(ctx, opts))
    return 1;

  auto out = figures_json(command, opts, figures);
  std::ofstream{opts.json_path} << out.dump(2) << "\n";
  print_table(out, command, figures);
  std::cout << "\nJSON: " << opts.json_path << "\n";
  return 0;
}
