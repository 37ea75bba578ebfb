#include "gasched_run/options_groups.hpp"

#include <cstdint>
#include <filesystem>

#include "process_options.hpp"

namespace gasched::run {

// A task file is anything readable as a stream: a file, a FIFO, a pipe
// (/dev/fd/N of a shell's <(...)), a device; not a folder.
std::string check_task_file(std::string& path) {
  if (path == "-")
    return {};
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status))
    return "no such file: " + path;
  if (std::filesystem::is_directory(status))
    return path + " is a folder, not a file of tasks";
  return {};
}

void add_stream_options(CLI::App& app, options& o, const std::string& group) {
  app.add_option("--max-pending", o.max_pending,
                 "with --tasks: most tasks read but not yet written out (waiting, running, "
                 "or with --ordered waiting for their turn); reading waits for room, so "
                 "memory stays flat however long the file (1..100000000)")
    ->type_name("N")
    ->check(CLI::Range(uint64_t{1}, uint64_t{100000000}).description(""))
    ->capture_default_str()
    ->group(group);
  app.add_option("--out", o.out_file,
                 "with --tasks: write the result lines to FILE instead of stdout. A FILE "
                 "that already holds anything is refused, unless --journal's record says "
                 "it holds this run's results")
    ->type_name("FILE")
    ->group(group);
  app.add_option("--journal", o.journal,
                 "with --tasks: record the run in JOURNAL (an SQLite file, made if missing) "
                 "so that the same command started again after gasched-run died, even by "
                 "kill -9, finishes the batch: tasks done are not run again (those accepted in "
                 "its last moment may be: tasks must be idempotent), the task file (which "
                 "must be the same; checked) is read on from where it was. With --out, "
                 "FILE then holds every line's result exactly once. On stdout the guarantee "
                 "is at least once: results printed in about the last second before the "
                 "death may be printed again. A journal in use by another run is refused. "
                 "With --serve: the served scheduler's own journal: started again on it "
                 "after any death, it resumes every unfinished task of every client, and "
                 "clients may await the results of tasks that finished before")
    ->type_name("JOURNAL")
    ->group(group);
  app.add_option("--advertise", o.advertise,
                 "with --serve and a PostgreSQL --journal: the HOST:PORT nodes and clients "
                 "reach this scheduler at, as the standbys name it (default: the --listen "
                 "address)")
    ->type_name("HOST:PORT")
    ->group(group);
  app.add_option_function<std::string>(
       "--lease-time",
       [&o](const std::string& v) {
         // 1s, 500ms, 2.5 (seconds)
         size_t used = 0;
         double x = -1;
         try {
           x = std::stod(v, &used);
         } catch (const std::exception&) {
         }
         auto unit = v.substr(used);
         double ms = unit == "ms" ? x : unit == "s" || unit.empty() ? x * 1000 : -1;
         if (ms < 40 || ms > 600000)
           throw CLI::ValidationError("--lease-time", "wants a duration from 40ms to 600s "
                                                      "(500ms, 2s, 1.5), not '" + v + "'");
         o.lease_time_ms = static_cast<uint32_t>(ms);
       },
       "with --serve and a PostgreSQL --journal: how long the active's lease lasts "
       "unrenewed (renewed every quarter of it): a hung active is replaced after about "
       "this long; shorter takes over sooner, longer mistakes a loaded machine for a hung "
       "one less often (a dead active's lease is free at once). Default: 1s")
    ->type_name("DURATION")
    ->group(group);
  app.add_option("--journal-cluster", o.journal_cluster,
                 "with --serve and a PostgreSQL --journal: the cluster the journal belongs to, "
                 "recorded in it when made; a database whose journal names another cluster is "
                 "refused. Default: gasched")
    ->type_name("NAME")
    ->group(group);
  app.add_flag("--ordered", o.ordered,
               "with --tasks: print results in the order of the lines (a slow task holds "
               "back the ones after it, within --max-pending); default: as they come")
    ->group(group);
}

CLI::Option* add_http_option(CLI::App& app, std::string& text, const std::string& group) {
  return app
    .add_option("--http", text,
                "serve the scheduler's dashboard, /api/stats and /metrics at [HOST:]PORT "
                "(HOST default 127.0.0.1, PORT 0 picks one; the URL is printed on stderr) "
                "while the run lasts; no authentication: beyond loopback it needs "
                "--insecure")
    ->type_name("[HOST:]PORT")
    ->group(group);
}

void add_http_names(CLI::App& app, options& o, const std::string& group) {
  app.add_option("--http-name", o.http_names,
                 "with --http beyond loopback: a name of this machine that browsers may "
                 "use for the dashboard (repeatable); other Host headers get 403, so "
                 "that no other web site can read it through a browser (DNS rebinding)")
    ->type_name("NAME")
    ->group(group);
}

void take_http(options& o, const CLI::Option* opt, const std::string& text) {
  if (opt->count() == 0)
    return;
  if (!split_address(text, "127.0.0.1", 0, o.http_host, o.http_port))
    throw CLI::ValidationError("--http", "wants [HOST:]PORT with PORT 0..65535, got " + text);
  if (!is_loopback(o.http_host) && !o.insecure)
    throw CLI::ValidationError("--http", o.http_host + " is reachable beyond this machine, "
                                         "and the dashboard has no authentication: anyone "
                                         "who reaches it sees the cluster. Serve it on "
                                         "127.0.0.1, or add --insecure if you mean it");
}

// The generated data set of the default job.
void add_data_set_options(CLI::App& app, options& o, const std::string& group) {
  app.add_option("--batches", o.data.batches, "batch files, one task each (1..100000)")
    ->type_name("N")
    ->check(CLI::Range(1u, 100000u).description(""))
    ->capture_default_str()
    ->group(group);
  app.add_option("--games", o.data.games, "games in the data set (1..100)")
    ->type_name("N")
    ->check(CLI::Range(1u, 100u).description(""))
    ->capture_default_str()
    ->group(group);
  app.add_option("--players", o.data.players, "players per game (1..10000000)")
    ->type_name("N")
    ->check(CLI::Range(1u, 10000000u).description(""))
    ->capture_default_str()
    ->group(group);
  app.add_option("--days", o.data.days, "days of events from 2024-01-01 (1..366)")
    ->type_name("N")
    ->check(CLI::Range(1u, 366u).description(""))
    ->capture_default_str()
    ->group(group);
  app.add_option("--seed", o.data.seed, "the same seed gives the same data")
    ->type_name("N")
    ->capture_default_str()
    ->group(group);
}

// What gasched-run prints, and how much; returns --log.
CLI::Option* add_output_options(CLI::App& app, options& o, const std::string& group) {
  app.add_flag("-q,--quiet", o.quiet, "no progress and no notices on stderr; results, "
                                      "summary and errors only")
    ->group(group);
  app.add_flag("--json", o.json,
               "print the summary as JSON (with --tasks: a last line {\"summary\": ...})")
    ->group(group);
  app.add_option("--progress", o.progress,
                 "auto: a live bar when stderr is a terminal, plain lines otherwise")
    ->type_name("auto|bar|lines|off")
    ->check(CLI::IsMember({"auto", "bar", "lines", "off"}).description(""))
    ->capture_default_str()
    ->group(group);
  app.add_option("--progress-every", o.progress_every,
                 "seconds between plain progress lines (0.1..3600)")
    ->type_name("SECONDS")
    ->check(CLI::Range(0.1, 3600.0).description(""))
    ->capture_default_str()
    ->group(group);
  auto* log = add_log_option(app, o, group);
  return log->description(log->get_description() + "; given, the local nodes log at it too");
}

} // namespace gasched::run
