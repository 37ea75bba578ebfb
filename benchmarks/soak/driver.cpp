// The driver of gasched-soak: starts the scheduler, the nodes and the
// clients (copies of this program), puts a fault proxy in front of each
// node's and client's link to the scheduler, injects faults on a seeded
// schedule, samples every process from /proc, then heals everything, lets
// the work drain, stops the processes and runs the checker.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "child_process.hpp"
#include "pg_throwaway.hpp"
#include "soak.hpp"
#include "tcp_proxy.hpp"

namespace gasched::soak {

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;
using tools::child_process;
using testing::tcp_proxy;

struct settings {
  double minutes = 1;
  double rate = 50;
  uint64_t seed = 1;
  double fault_every = 20;
  int nodes = 3;
  int clients = 2;
  uint32_t slots = 8;
  bool tls = false;
  std::string dir = "soak-run";
  double sample_every = 10;
  double drain = 60;
  int standbys = 0;          // schedulers beside the active one, on a PostgreSQL journal
  std::string journal_url;   // that journal; empty: a throw-away server of the run's own
  uint32_t lease_ms = 3000;  // the active's lease, with standbys
};

struct process {
  std::string role;  // scheduler, node, client
  std::string name;
  std::vector<std::string> argv;
  uint16_t port = 0;  // a scheduler's
  child_process child{};
  int life = 0;
  clock_type::time_point started{};
  bool down = false;     // killed by the nemesis, waiting to start again
  bool stopped = false;  // SIGSTOP
  bool busy = false;     // a fault holds it
};

struct fault {
  std::string kind;
  process* target = nullptr;
  std::vector<std::unique_ptr<tcp_proxy>>* proxies = nullptr;
  clock_type::time_point heal_at{};
};

std::string self_exe() {
  char buf[4096];
  auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "gasched-soak";
}

std::string certs_script() {
  // Installed beside the program, else the source tree's.
  auto exe = self_exe();
  auto beside = exe.substr(0, exe.rfind('/') + 1) + "gasched-certs";
  if (::access(beside.c_str(), X_OK) == 0)
    return beside;
  return std::string{GASCHED_SOURCE_DIR} + "/apps/scripts/gasched-certs";
}

class run {
public:
  explicit run(settings s) : s_(std::move(s)), rng_(s_.seed) {}

  int go() {
    ::mkdir(s_.dir.c_str(), 0755);
    ::mkdir((s_.dir + "/logs").c_str(), 0755);
    if (!dir_is_empty()) {
      std::cerr << "gasched-soak: " << s_.dir << " holds an earlier run; give a new --dir\n";
      return 2;
    }
    faults_fd_ = open_append(s_.dir + "/faults.txt");
    // Close-on-exec, as every file the driver holds: a child inherits none.
    samples_ = std::fopen((s_.dir + "/samples.tsv").c_str(), "we");
    if (!samples_) {
      std::cerr << "gasched-soak: cannot write " << s_.dir << "/samples.tsv\n";
      return 1;
    }
    std::fputs("seconds\trole\tname\tlife\tage\tpid\trss_kib\tfds\tthreads\tcpu_s\tlinks\t"
               "link_limit\n",
               samples_);
    if (s_.standbys > 0) {
      // The checker reads the set-up: with standbys, the takeover is a fault kind.
      std::ofstream{s_.dir + "/standbys.txt"} << s_.standbys << "\n";
      if (!start_journal())
        return 1;
    }
    if (s_.tls && !make_certs())
      return 1;
    t0_ = clock_type::now();
    scheds_.resize(static_cast<size_t>(1 + s_.standbys));
    for (size_t j = 0; j < scheds_.size(); ++j)
      if (!start_scheduler(j))
        return 1;
    for (int i = 0; i < s_.nodes + s_.clients; ++i) {
      links_.emplace_back();
      for (auto& sp : scheds_)
        links_.back().push_back(std::make_unique<tcp_proxy>(sp.port));
    }
    for (int i = 0; i < s_.nodes; ++i) {
      auto name = "node" + std::to_string(i);
      process p{"node", name, {exe_, "node", "--dir", s_.dir, "--join", join_list(i, true),
                               "--name", name, "--slots", std::to_string(s_.slots)}};
      if (s_.tls)
        p.argv.insert(p.argv.end(), {"--tls", s_.dir + "/certs/" + name});
      nodes_.push_back(std::move(p));
    }
    for (int i = 0; i < s_.clients; ++i)
      clients_.push_back(process{"client", "client" + std::to_string(i), {}});
    for (auto& n : nodes_)
      start(n);
    for (auto& c : clients_)
      start(c);
    std::cout << "gasched-soak: " << s_.nodes << " nodes, " << s_.clients << " clients, "
              << s_.rate << " tasks/s for " << s_.minutes << " min, a fault every "
              << s_.fault_every << " s on average, seed " << s_.seed
              << (s_.tls ? ", TLS" : "")
              << (s_.standbys > 0 ? ", " + std::to_string(s_.standbys)
                                      + " standby schedulers on PostgreSQL"
                                  : std::string{})
              << "; files in " << s_.dir << std::endl;

    storm();
    heal_all();
    drain();
    stop_all();
    std::fclose(samples_);
    samples_ = nullptr;
    auto v = check_dir(s_.dir, true);
    std::ofstream{s_.dir + "/report.md"} << v.report;
    std::cout << v.report;
    return v.pass ? 0 : 1;
  }

private:
  bool dir_is_empty() {
    std::ifstream f{s_.dir + "/faults.txt"};
    return !f.good();
  }

  bool make_certs() {
    std::string cmd = certs_script() + " " + s_.dir + "/certs scheduler";
    for (int i = 0; i < s_.nodes; ++i)
      cmd += " node" + std::to_string(i);
    for (int i = 0; i < s_.clients; ++i)
      cmd += " client" + std::to_string(i);
    cmd += " > " + s_.dir + "/logs/certs.log 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::cerr << "gasched-soak: making certificates failed: " << cmd << "\n";
      return false;
    }
    return true;
  }

  double seconds() const {
    return std::chrono::duration<double>(clock_type::now() - t0_).count();
  }

  std::string log_path(const process& p) const { return s_.dir + "/logs/" + p.name + ".log"; }

  bool start_journal() {
    if (s_.journal_url.empty()) {
      if (!pg_throwaway::available()) {
        std::cerr << "gasched-soak: --standbys wants PostgreSQL's server programs (Debian's "
                     "postgresql package) or a database given with --journal-url\n";
        return false;
      }
      try {
        pg_.emplace();
        s_.journal_url = pg_->fresh_db();
      } catch (const std::exception& e) {
        std::cerr << "gasched-soak: " << e.what() << "\n";
        return false;
      }
    }
    return true;
  }

  // The first scheduler is active before the others start as its standbys.
  bool start_scheduler(size_t j) {
    auto& p = scheds_[j];
    p.role = "scheduler";
    p.name = j == 0 ? "scheduler" : "scheduler" + std::to_string(j);
    p.argv = {exe_, "scheduler", "--dir", s_.dir, "--port", "0", "--slots",
              std::to_string(s_.slots), "--name", p.name};
    if (s_.standbys > 0)
      p.argv.insert(p.argv.end(), {"--journal", s_.journal_url, "--lease-ms",
                                   std::to_string(s_.lease_ms)});
    if (s_.tls)
      p.argv.insert(p.argv.end(), {"--tls", s_.dir + "/certs/scheduler"});
    start(p);
    auto line = p.child.read_line(30s);
    if (!line || line->rfind("listening on ", 0) != 0) {
      std::cerr << "gasched-soak: " << p.name << " did not start (see " << log_path(p) << ")\n";
      return false;
    }
    p.port = static_cast<uint16_t>(std::stoi(line->substr(13)));
    p.argv[5] = std::to_string(p.port);  // a restart listens where the proxies point
    if (s_.standbys > 0 && j == 0) {
      auto until = clock_type::now() + 30s;
      while (role_of(p).first != "active") {
        if (clock_type::now() > until) {
          std::cerr << "gasched-soak: " << p.name << " did not become active (see "
                    << log_path(p) << ")\n";
          return false;
        }
        std::this_thread::sleep_for(50ms);
      }
    }
    return true;
  }

  // What a scheduler last said of itself: role and generation.
  std::pair<std::string, long> role_of(const process& p) const {
    std::ifstream in{s_.dir + "/role-" + p.name + ".txt"};
    std::string role;
    long generation = -1;
    in >> role >> generation;
    return {role, generation};
  }

  // The active scheduler: of those up, the one that says so with the
  // highest generation (a hung one that was replaced still says active).
  process* active_scheduler() {
    process* best = nullptr;
    long best_generation = -1;
    for (auto& p : scheds_) {
      if (p.down || !p.child.running())
        continue;
      auto [role, generation] = role_of(p);
      if ((role == "active" || role == "alone") && generation > best_generation) {
        best = &p;
        best_generation = generation;
      }
    }
    return best;
  }

  // Node or client i reaches every scheduler through a proxy of its own.
  std::string join_list(size_t i, bool with_host) const {
    std::string out;
    for (auto& proxy : links_[i])
      out += (out.empty() ? "" : ",") + std::string{with_host ? "127.0.0.1:" : ""}
             + std::to_string(proxy->port());
    return out;
  }

  void start(process& p) {
    if (p.role == "client") {
      // A new life is a new client: its own files and tags.
      auto index = std::stoi(p.name.substr(6));
      auto tag_base = (int64_t{index} * 1000 + p.life) * 1000000000LL;
      p.argv = {exe_, "client", "--dir", s_.dir, "--name", p.name + "." + std::to_string(p.life),
                "--tag-base", std::to_string(tag_base), "--rate",
                std::to_string(s_.rate / s_.clients), "--seed",
                std::to_string(s_.seed * 1000 + static_cast<uint64_t>(tag_base / 1000000000)),
                "--connect", join_list(static_cast<size_t>(s_.nodes + index), false)};
      if (s_.tls)
        p.argv.insert(p.argv.end(), {"--tls", s_.dir + "/certs/" + p.name});
    }
    if (p.role == "scheduler")  // what an earlier life said of itself no longer holds
      ::unlink((s_.dir + "/role-" + p.name + ".txt").c_str());
    p.child = child_process::start_logged(p.argv, log_path(p));
    p.started = clock_type::now();
    p.down = false;
    p.stopped = false;
  }

  void restart(process& p) {
    ++p.life;
    start(p);
    if (p.role == "scheduler") {
      // The same port as before: every proxy points there.
      auto line = p.child.read_line(30s);
      if (!line)
        log_event("scheduler-restart-failed", p.name, 0);
    }
  }

  void log_event(const std::string& kind, const std::string& target, double secs) {
    std::ostringstream line;
    line.precision(1);
    line << std::fixed << seconds() << " " << kind << " " << target << " " << secs << "\n";
    append_line(faults_fd_, line.str());
  }

  double uniform(double lo, double hi) { return std::uniform_real_distribution<>(lo, hi)(rng_); }

  // The kinds come from a shuffled deck, dealt again when empty: every kind
  // comes once in each round of eight faults.
  std::string next_kind() {
    if (deck_.empty()) {
      deck_ = fault_kinds(s_.standbys > 0);
      std::shuffle(deck_.begin(), deck_.end(), rng_);
    }
    auto k = deck_.back();
    deck_.pop_back();
    return k;
  }

  process* free_one(std::vector<process>& ps) {
    std::vector<process*> free;
    for (auto& p : ps)
      if (!p.busy)
        free.push_back(&p);
    if (free.empty())
      return nullptr;
    return free[std::uniform_int_distribution<size_t>(0, free.size() - 1)(rng_)];
  }

  std::vector<std::unique_ptr<tcp_proxy>>* proxies_of(const process& p) {
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (&nodes_[i] == &p)
        return &links_[i];
    for (size_t i = 0; i < clients_.size(); ++i)
      if (&clients_[i] == &p)
        return &links_[nodes_.size() + i];
    return nullptr;
  }

  bool any_scheduler_busy() const {
    return std::any_of(scheds_.begin(), scheds_.end(), [](const process& p) { return p.busy; });
  }

  // Starts one fault; false when its targets are all held by others.
  bool inject(const std::string& kind) {
    fault f{kind};
    auto links = [&]() -> process* {
      std::vector<process>* group = std::uniform_int_distribution<>(0, 2)(rng_) == 0 ? &clients_
                                                                                     : &nodes_;
      return free_one(*group);
    };
    double secs = 0;
    if (kind == "node-kill" || kind == "node-stop") {
      f.target = free_one(nodes_);
    } else if (kind == "client-kill") {
      f.target = free_one(clients_);
    } else if (kind == "scheduler-stop" || kind == "scheduler-kill" || kind == "takeover") {
      // With standbys, the active one (a standby takes over).
      f.target = any_scheduler_busy() ? nullptr
                 : s_.standbys > 0    ? active_scheduler()
                                      : &scheds_[0];
    } else {
      f.target = links();
    }
    if (!f.target)
      return false;
    auto& p = *f.target;
    if (kind == "node-kill" || kind == "client-kill" || kind == "scheduler-kill") {
      secs = kind == "client-kill" ? 0.5 : uniform(0.5, 2);
      p.child.kill();
      p.down = true;
    } else if (kind == "node-stop" || kind == "scheduler-stop" || kind == "takeover") {
      // With standbys a scheduler-stop stays within the active's lease (the
      // active survives it), a takeover outlasts it (a standby takes over,
      // the woken one steps down).
      auto lease = s_.lease_ms / 1000.0;
      secs = kind == "takeover"                               ? lease + uniform(1, 3)
             : kind == "scheduler-stop" && s_.standbys > 0 ? uniform(lease * 0.2, lease * 0.5)
                                                             : uniform(1.5, 4);
      p.child.signal(SIGSTOP);
      p.stopped = true;
    } else {
      f.proxies = proxies_of(p);
      double ms = uniform(50, 300);
      auto way = std::uniform_int_distribution<>(0, 1)(rng_) == 0
                   ? tcp_proxy::direction::to_upstream
                   : tcp_proxy::direction::to_client;
      secs = kind == "cut" ? uniform(2, 5) : uniform(3, 6);
      for (auto& proxy : *f.proxies) {
        if (kind == "cut")
          proxy->blackhole();
        else if (kind == "delay")
          proxy->delay(std::chrono::milliseconds(static_cast<int>(ms)));
        else
          proxy->lossy(0.3, 300ms, way);
      }
    }
    p.busy = true;
    f.heal_at = clock_type::now() + std::chrono::milliseconds(static_cast<int>(secs * 1000));
    log_event(kind, p.name, secs);
    active_.push_back(f);
    ++injected_;
    return true;
  }

  void heal(fault& f) {
    auto& p = *f.target;
    if (f.proxies)
      for (auto& proxy : *f.proxies)
        proxy->pass();
    else if (p.stopped) {
      p.child.signal(SIGCONT);
      p.stopped = false;
    } else if (p.down) {
      restart(p);
    }
    p.busy = false;
  }

  // A process that died without the nemesis: logged and started again. A
  // scheduler that a standby replaced steps down (exit status 3): expected.
  void watch(process& p) {
    if (p.down || p.stopped || !p.child.running())
      return;
    if (auto status = p.child.wait_exit(0ms)) {
      if (p.role == "scheduler" && s_.standbys > 0 && WIFEXITED(*status)
          && WEXITSTATUS(*status) == 3) {
        log_event("stepped-down", p.name, 0);
        restart(p);
        return;
      }
      log_event("unexpected-exit", p.name, 0);
      std::cerr << "gasched-soak: " << p.name << " " << tools::describe_exit(*status) << "\n";
      restart(p);
    }
  }

  void sample_all() {
    for (auto& p : scheds_)
      sample(p);
    for (auto& n : nodes_)
      sample(n);
    for (auto& c : clients_)
      sample(c);
    std::fflush(samples_);
  }

  // Links: the connections between a node or client and the scheduler
  // addresses it was given (its proxies), and a scheduler's connections
  // accepted on its port and to its journal. With standbys, a node or client
  // that searched for the active scheduler keeps its connection to each
  // standby that refused it (CAF keeps a connection per address and reuses
  // it for the next search), so their number follows the searches, not a
  // leak; the checker judges them by their bound (link_limit) and the other
  // descriptors exactly.
  std::function<bool(unsigned, unsigned)> link_ports(const process& p) {
    if (p.role == "scheduler") {
      auto own = p.port;
      auto journal = journal_port();
      return [own, journal](unsigned local, unsigned remote) {
        return local == own || (journal != 0 && remote == journal);
      };
    }
    std::vector<unsigned> ports;
    if (auto* proxies = proxies_of(p))
      for (auto& proxy : *proxies)
        ports.push_back(proxy->port());
    return [ports](unsigned, unsigned remote) {
      return std::find(ports.begin(), ports.end(), remote) != ports.end();
    };
  }

  // At most one connection per scheduler address for a node or client; for
  // a scheduler one per node or client (each holds at most one to it) and two
  // to the journal (one as a standby, two once active).
  long link_limit(const process& p) const {
    if (p.role == "scheduler")
      return static_cast<long>(links_.size()) + 2;
    return static_cast<long>(scheds_.size());
  }

  unsigned journal_port() const {
    if (s_.standbys == 0)
      return 0;
    // postgresql://user:password@host:port/db
    auto at = s_.journal_url.rfind('@');
    auto colon = s_.journal_url.find(':', at == std::string::npos ? 0 : at);
    if (at == std::string::npos || colon == std::string::npos)
      return 5432;
    return static_cast<unsigned>(std::atoi(s_.journal_url.c_str() + colon + 1));
  }

  // Established IPv4 TCP sockets by inode: (local port, remote port).
  static std::map<unsigned long, std::pair<unsigned, unsigned>>
  established_tcp(const std::string& base) {
    std::map<unsigned long, std::pair<unsigned, unsigned>> out;
    std::ifstream in{base + "/net/tcp"};
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      unsigned local = 0, remote = 0, state = 0;
      unsigned long inode = 0;
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (std::sscanf(line.c_str(), " %*d: %*x:%x %*x:%x %x %*x:%*x %*x:%*x %*x %*u %*u %lu",
                      &local, &remote, &state, &inode)
            == 4
          && state == 1)
        out[inode] = {local, remote};
    }
    return out;
  }

  void sample(process& p) {
    if (p.down || !p.child.running())
      return;
    auto pid = p.child.pid();
    std::string base = "/proc/" + std::to_string(pid);
    long rss = -1, threads = -1;
    std::ifstream status{base + "/status"};
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("VmRSS:", 0) == 0)
        rss = std::stol(line.substr(6));
      if (line.rfind("Threads:", 0) == 0)
        threads = std::stol(line.substr(8));
    }
    long fds = 0, links = 0;
    auto link = link_ports(p);
    auto tcp = established_tcp(base);
    if (auto* d = ::opendir((base + "/fd").c_str())) {
      while (auto* e = ::readdir(d)) {
        if (e->d_name[0] == '.')
          continue;
        ++fds;
        char target[64];
        auto n = ::readlinkat(::dirfd(d), e->d_name, target, sizeof target - 1);
        if (n <= 0)
          continue;
        target[n] = 0;
        unsigned long inode = 0;
        if (std::sscanf(target, "socket:[%lu]", &inode) != 1)
          continue;
        auto it = tcp.find(inode);
        if (it != tcp.end() && link(it->second.first, it->second.second))
          ++links;
      }
      ::closedir(d);
    }
    double cpu = 0;
    std::ifstream stat{base + "/stat"};
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    auto close = text.rfind(')');
    if (close != std::string::npos) {
      std::istringstream rest{text.substr(close + 2)};
      std::string field;
      unsigned long utime = 0, stime = 0;
      for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14)
          utime = std::stoul(field);
        if (i == 15)
          stime = std::stoul(field);
      }
      cpu = static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }
    auto age = std::chrono::duration<double>(clock_type::now() - p.started).count();
    std::ostringstream line;
    line << static_cast<long>(seconds()) << "\t" << p.role << "\t" << p.name << "\t" << p.life
         << "\t" << static_cast<long>(age) << "\t" << pid << "\t" << rss << "\t" << fds << "\t"
         << threads << "\t" << cpu << "\t" << links << "\t" << link_limit(p) << "\n";
    std::fputs(line.str().c_str(), samples_);
  }

  void tick_faults() {
    auto now = clock_type::now();
    for (auto it = active_.begin(); it != active_.end();) {
      if (it->heal_at <= now) {
        heal(*it);
        it = active_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& p : scheds_)
      watch(p);
    note_active();
    for (auto& n : nodes_)
      watch(n);
    for (auto& c : clients_)
      watch(c);
  }

  // With standbys: which scheduler is active, logged when it changes.
  void note_active() {
    if (s_.standbys == 0)
      return;
    auto* p = active_scheduler();
    if (!p)
      return;
    auto generation = role_of(*p).second;
    if (p->name != active_name_ || generation != active_generation_) {
      log_event("active", p->name, static_cast<double>(generation));
      active_name_ = p->name;
      active_generation_ = generation;
    }
  }

  double next_gap() {
    // Exponential gaps around the mean, kept within a third and three times it.
    auto gap = std::exponential_distribution<>(1.0 / s_.fault_every)(rng_);
    return std::clamp(gap, s_.fault_every / 3, s_.fault_every * 3);
  }

  void storm() {
    auto end = s_.minutes * 60;
    double next_fault = std::min(next_gap(), s_.fault_every);
    double next_sample = 0;
    std::string pending_kind;
    while (seconds() < end) {
      tick_faults();
      if (seconds() >= next_sample) {
        sample_all();
        next_sample += s_.sample_every;
      }
      // The last faults heal before the load stops: none starts in the last 8 s.
      if (seconds() >= next_fault && seconds() < end - 8) {
        if (pending_kind.empty())
          pending_kind = next_kind();
        if (inject(pending_kind)) {
          pending_kind.clear();
          next_fault += next_gap();
        }
      }
      std::this_thread::sleep_for(50ms);
    }
  }

  void heal_all() {
    for (auto& f : active_)
      heal(f);
    active_.clear();
    log_event("healed", "all", 0);
  }

  // Pending and running at the scheduler, from the file it rewrites.
  std::optional<std::pair<long, long>> sched_load() {
    std::ifstream in{s_.dir + "/sched-stats.txt"};
    long pending = 0, running = 0;
    if (in >> pending >> running)
      return std::make_pair(pending, running);
    return std::nullopt;
  }

  void drain() {
    for (auto& c : clients_)
      c.child.signal(SIGTERM);
    auto until = clock_type::now() + std::chrono::milliseconds(static_cast<int>(s_.drain * 1000));
    double next_sample = seconds() + s_.sample_every;
    for (;;) {
      bool clients_done = true;
      for (auto& c : clients_)
        if (c.child.running() && !c.child.wait_exit(0ms))
          clients_done = false;
      auto load = sched_load();
      bool idle = load && load->first == 0 && load->second == 0;
      if ((clients_done && idle) || clock_type::now() > until)
        break;
      if (seconds() >= next_sample) {
        sample_all();
        next_sample += s_.sample_every;
      }
      for (auto& p : scheds_)
        watch(p);
      note_active();
      std::this_thread::sleep_for(100ms);
    }
    log_event("drained", "all", 0);
  }

  void stop_all() {
    sample_all();
    for (auto& c : clients_)
      if (c.child.running() && !c.child.wait_exit(0ms))
        c.child.kill();
    // Standbys first (the active must not be replaced now), then the active,
    // which accounts for every task on its way out.
    auto* active = active_scheduler();
    for (auto& p : scheds_)
      if (&p != active) {
        p.child.signal(SIGTERM);
        if (!p.child.wait_exit(20s))
          p.child.kill();
      }
    if (active) {
      active->child.signal(SIGTERM);
      if (!active->child.wait_exit(60s))
        active->child.kill();
    }
    for (auto& n : nodes_)
      n.child.signal(SIGTERM);
    for (auto& n : nodes_)
      if (!n.child.wait_exit(10s))
        n.child.kill();
  }

  settings s_;
  std::mt19937_64 rng_;
  std::string exe_ = self_exe();
  clock_type::time_point t0_;
  std::optional<pg_throwaway> pg_;  // stopped and removed last
  std::vector<process> scheds_;     // the first is active at the start
  std::string active_name_;
  long active_generation_ = -1;
  std::vector<process> nodes_;
  std::vector<process> clients_;
  std::vector<std::vector<std::unique_ptr<tcp_proxy>>> links_;  // [node or client][scheduler]
  std::vector<fault> active_;
  std::vector<std::string> deck_;
  int faults_fd_ = -1;
  std::FILE* samples_ = nullptr;
  int injected_ = 0;
};

} // namespace

int run_driver(int argc, char** argv) {
  CLI::App app{"gasched-soak: a cluster of real processes on 127.0.0.1 under a seeded storm "
               "of faults; every task is accounted for at the end (see docs/soak.md)"};
  settings s;
  std::string check_only;
  app.add_option("--minutes", s.minutes, "how long the load and the faults last")
    ->capture_default_str();
  app.add_option("--rate", s.rate, "tasks submitted per second, over all clients")
    ->capture_default_str();
  app.add_option("--seed", s.seed, "seed of the fault schedule and the task mix")
    ->capture_default_str();
  app.add_option("--fault-every", s.fault_every, "mean seconds between faults")
    ->capture_default_str();
  app.add_option("--nodes", s.nodes, "node processes")->capture_default_str();
  app.add_option("--clients", s.clients, "client processes")->capture_default_str();
  app.add_option("--slots", s.slots, "slots per node")->capture_default_str();
  app.add_flag("--tls", s.tls, "mutual TLS between every process (certificates made for the run)");
  app.add_option("--dir", s.dir, "run directory (must not hold an earlier run)")
    ->capture_default_str();
  app.add_option("--drain", s.drain,
                 "seconds the work may take to drain after the last fault healed")
    ->capture_default_str();
  app.add_option("--standbys", s.standbys,
                 "standby schedulers beside the active one, sharing a PostgreSQL journal; the "
                 "scheduler faults then hit the active one, and a takeover (the active "
                 "stopped beyond its lease) is a fault kind")
    ->capture_default_str();
  app.add_option("--journal-url", s.journal_url,
                 "with --standbys: the PostgreSQL journal (postgresql://USER:PASSWORD@HOST:PORT/DB, "
                 "an empty database); default: a throw-away server started for the run");
  app.add_option("--lease-ms", s.lease_ms, "with --standbys: the active scheduler's lease")
    ->capture_default_str();
  app.add_option("--check-only", check_only, "check the run in DIR again, run nothing");
  CLI11_PARSE(app, argc, argv);
  if (!check_only.empty()) {
    auto v = check_dir(check_only, true);
    std::cout << v.report;
    return v.pass ? 0 : 1;
  }
  if (s.standbys < 0 || s.lease_ms < 100) {
    std::cerr << "gasched-soak: --standbys must be 0 or more, --lease-ms 100 or more\n";
    return 2;
  }
  if (s.nodes < 1 || s.clients < 1 || s.rate <= 0 || s.fault_every <= 0 || s.minutes <= 0) {
    std::cerr << "gasched-soak: --nodes, --clients, --rate, --fault-every and --minutes must "
                 "be positive\n";
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  return run{s}.go();
}

} // namespace gasched::soak
