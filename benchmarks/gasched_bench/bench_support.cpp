// gasched-bench's shared pieces: see bench.hpp.
#include "bench.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

namespace gasched::bench {

double figure::median() const {
  auto v = runs;
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double figure::low() const {
  return runs.empty() ? 0 : *std::min_element(runs.begin(), runs.end());
}

double figure::high() const {
  return runs.empty() ? 0 : *std::max_element(runs.begin(), runs.end());
}

void context::repeat(figure f, const std::function<double()>& once) {
  for (int i = 0; i < runs; ++i)
    f.runs.push_back(once());
  add(std::move(f));
}

void context::add(figure f) {
  std::cerr << "  " << f.scenario << " / " << f.name << ": " << fmt_value(f.median()) << " "
            << f.unit << " (" << fmt_value(f.low()) << "-" << fmt_value(f.high()) << ")\n";
  figures.push_back(std::move(f));
}

std::string fmt_value(double x) {
  char buf[64];
  if (x >= 1000)
    std::snprintf(buf, sizeof(buf), "%.0f", x);
  else if (x >= 10)
    std::snprintf(buf, sizeof(buf), "%.1f", x);
  else
    std::snprintf(buf, sizeof(buf), "%.2f", x);
  return buf;
}

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double ms_since(clock_type::time_point t0) {
  return seconds_since(t0) * 1000.0;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  auto i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

std::string self_dir() {
  char buf[4096];
  auto n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::string path = n > 0 ? std::string(buf, static_cast<size_t>(n)) : ".";
  return path.substr(0, path.rfind('/'));
}

std::string run_command(const std::string& cmd) {
  std::string out;
  if (auto* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
      out.append(buf, n);
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  return out;
}

std::string temp_file(const std::string& what) {
  auto name = "/tmp/gasched-bench-" + what + "-XXXXXX";
  auto fd = mkstemp(name.data());
  if (fd < 0)
    throw std::runtime_error("cannot create a temporary file for " + what);
  close(fd);
  return name;
}

std::string cpu_model() {
  std::ifstream in{"/proc/cpuinfo"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0)
      return line.substr(line.find(':') + 2);
  return "unknown";
}

std::vector<task> identity_tasks(size_t n) {
  std::vector<task> ts;
  ts.reserve(n);
  for (size_t i = 0; i < n; ++i)
    ts.push_back(task{"test.identity", caf::make_message(static_cast<int32_t>(i))});
  return ts;
}

bench_cluster::bench_cluster(caf::actor_system& sys, const options& opts, size_t nodes,
                             uint32_t slots)
  : sys_(sys), self_(sys) {
  for (size_t i = 1; i <= nodes; ++i) {
    std::vector<std::string> args{"--port",  "0", "--name", "node" + std::to_string(i),
                                  "--slots", std::to_string(slots),
                                  "--caf#scheduler.policy=" + opts.policy};
    if (!opts.tls_dir.empty())
      args.insert(args.end(), {"--tls", opts.tls_dir});
    if (opts.threads > 0)
      args.push_back("--caf#scheduler.max-threads=" + std::to_string(opts.threads));
    for (auto& kv : opts.caf)
      args.push_back("--caf#" + kv);
    procs_.push_back(tools::start_node(opts.node_program, args, 20s));
    auto handle = connect(sys, "127.0.0.1", procs_.back().port);
    if (!handle)
      throw std::runtime_error(describe(handle.error()));
    nodes_.push_back(*handle);
  }
}

bench_cluster::~bench_cluster() {
  for (auto& s : schedulers_)
    self_->send_exit(s, caf::exit_reason::user_shutdown);
}

gasched::scheduler_actor bench_cluster::scheduler(uint32_t max_workers, caf::actor client,
                                    uint32_t prefetch, const std::string& journal,
                                    bool journal_sync) {
  scheduler_options o;
  o.journal = journal;
  o.journal_sync = journal_sync;
  o.nodes = nodes_;
  o.client = std::move(client);
  o.max_workers = max_workers;
  o.prefetch = prefetch;
  o.max_retries = 3;
  o.retry_timeout = 0s;
  auto s = spawn_scheduler(sys_, o);
  if (!s)
    throw std::runtime_error(describe(s.error()));
  schedulers_.push_back(*s);
  return *s;
}

gasched::stats bench_cluster::stats(const gasched::scheduler_actor& sched) {
  gasched::stats result;
  self_->request(sched, 10s, stats_atom::value)
    .receive([&](gasched::stats& s) { result = std::move(s); },
             [](caf::error& e) { throw std::runtime_error(describe(e)); });
  return result;
}

std::vector<task_result> bench_cluster::results(size_t n, caf::timespan timeout) {
  std::vector<task_result> got;
  got.reserve(n);
  bool timed_out = false;
  self_->receive_while([&] { return got.size() < n && !timed_out; })(
    [&](task_result& r) { got.push_back(std::move(r)); }, [&](task_id) {},
    [&](std::vector<task_id>&) {}, caf::after(timeout) >> [&] { timed_out = true; });
  if (timed_out)
    throw std::runtime_error("only " + std::to_string(got.size()) + " of "
                             + std::to_string(n) + " results arrived");
  return got;
}

counting_client::counting_client(caf::actor_system& sys, size_t n) : self_(sys) {
  auto waiter = caf::actor{self_};
  actor_ = sys.spawn([n, waiter](caf::event_based_actor* self) -> caf::behavior {
    auto got = std::make_shared<size_t>(0);
    return {
      [=](task_result&) {
        if (++*got == n) {
          self->send(waiter, caf::ok_atom::value);
          self->quit();
        }
      },
      [](task_id) {},
      [](std::vector<task_id>&) {},
    };
  });
}

void counting_client::done(caf::timespan timeout) {
  bool ok = false;
  self_->receive([&](caf::ok_atom) { ok = true; }, caf::after(timeout) >> [] {});
  if (!ok)
    throw std::runtime_error("results did not all arrive in time");
}

std::string temp_journal() {
  char name[] = "/tmp/gasched-bench-journal-XXXXXX";
  auto fd = mkstemp(name);
  close(fd);
  std::remove(name);  // the journal makes its own file
  return name;
}

} // namespace gasched::bench
