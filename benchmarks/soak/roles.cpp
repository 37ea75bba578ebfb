// The scheduler, node and client parts of gasched-soak (see soak.hpp).
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "gasched/active_search.hpp"
#include "gasched/gasched.hpp"
#include "gasched/run_node.hpp"
#include "soak.hpp"

namespace gasched::soak {

namespace {

using tick_atom = caf::atom_constant<caf::atom("soaktick")>;
using stop_atom_ = caf::atom_constant<caf::atom("soakstop")>;

std::string code_name(const caf::error& e) {
  if (e == errc::max_retries)
    return "max_retries";
  if (e == errc::permanent_failure)
    return "permanent_failure";
  if (e == errc::cancelled)
    return "cancelled";
  if (e == errc::node_failures)
    return "node_failures";
  if (e == errc::not_allowed)
    return "not_allowed";
  if (e == errc::unknown_task)
    return "unknown_task";
  auto text = describe(e);
  for (auto& c : text)
    if (c == ' ' || c == '\n')
      c = '_';
  return text;
}

std::string outcome(const task_result& r) {
  if (r.ok()) {
    if (r.value.match_elements<int64_t>())
      return "ok " + std::to_string(r.value.get_as<int64_t>(0));
    return "ok ?";
  }
  return "err " + code_name(r.error);
}

int64_t tag_of(const task& t) {
  return t.args.match_element<int64_t>(0) ? t.args.get_as<int64_t>(0) : -1;
}

caf::error init_config(caf::actor_system_config& cfg, const std::string& tls_dir) {
  tls_options tls;
  if (!tls_dir.empty())
    tls = tls_options::from_dir(tls_dir);
  return init(cfg, {}, tls);
}

// Blocks SIGTERM and SIGINT in every thread (call before any thread starts),
// so that the main thread takes them with sigtimedwait.
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

bool wait_stop_signal(const sigset_t& set, std::chrono::milliseconds d) {
  timespec ts{static_cast<time_t>(d.count() / 1000), static_cast<long>(d.count() % 1000) * 1000000};
  return sigtimedwait(&set, nullptr, &ts) > 0;
}

std::set<task_id> ids_in(const std::string& path, char kind) {
  std::set<task_id> ids;
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);) {
    std::istringstream words{line};
    char k = 0;
    task_id id = 0;
    if (words >> k >> id && k == kind)
      ids.insert(id);
  }
  return ids;
}

// The id and tag of each acknowledged task ("S ID TAG KIND") in a client's file.
std::map<task_id, int64_t> tags_in(const std::string& path) {
  std::map<task_id, int64_t> tags;
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);) {
    std::istringstream words{line};
    char k = 0;
    task_id id = 0;
    int64_t tag = 0;
    if (words >> k >> id >> tag && k == 'S')
      tags.emplace(id, tag);
  }
  return tags;
}

std::vector<std::string> files_starting(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  std::ifstream list;  // no <filesystem> needed: glob the directory
  if (auto* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.rfind(prefix, 0) == 0)
        out.push_back(dir + "/" + name);
    }
    ::closedir(d);
  }
  return out;
}

// The scheduler's own client: one line per result it is sent.
caf::behavior recorder(caf::event_based_actor*, int fd) {
  return {[fd](const task_result& r) {
    append_line(fd, "R " + std::to_string(r.id) + " " + std::to_string(tag_of(r.task)) + " "
                      + outcome(r) + "\n");
  }};
}

} // namespace

// -- scheduler ------------------------------------------------------------------

int run_scheduler(int argc, char** argv) {
  CLI::App app{"gasched-soak scheduler"};
  std::string dir, tls_dir, journal, name = "scheduler";
  uint16_t port = 0;
  uint32_t slots = 8;
  uint32_t lease_ms = 1000;
  app.add_option("--dir", dir)->required();
  app.add_option("--port", port);
  app.add_option("--tls", tls_dir);
  app.add_option("--slots", slots);
  app.add_option("--name", name);
  app.add_option("--journal", journal, "default: DIR/journal.db; a PostgreSQL URL for standbys");
  app.add_option("--lease-ms", lease_ms);
  CLI11_PARSE(app, argc, argv);
  auto stop_signals = block_stop_signals();

  caf::actor_system_config cfg;
  if (auto err = init_config(cfg, tls_dir)) {
    std::cerr << describe(err) << "\n";
    return 1;
  }
  caf::actor_system sys{cfg};
  int results_fd = open_append(dir + "/results.txt");
  scheduler_options opts;
  opts.name = "soak";
  opts.client = sys.spawn(recorder, results_fd);
  opts.journal = journal.empty() ? dir + "/journal.db" : journal;
  // No advertised address: nodes and clients reach each scheduler through
  // their own fault proxies, and find the active by trying each in turn.
  opts.lease_time = std::chrono::milliseconds(lease_ms);
  opts.max_workers = slots;
  opts.max_retries = max_retries;
  opts.retry_timeout = std::chrono::milliseconds(100);
  opts.max_node_failures = infinity;  // every task that may succeed must
  opts.no_nodes_warning = caf::timespan{0};
  auto sched = spawn_scheduler(sys, opts);
  if (!sched) {
    std::cerr << "gasched-soak scheduler: " << describe(sched.error()) << "\n";
    return 1;
  }
  auto published = publish(sys, *sched, port);
  if (!published) {
    std::cerr << "gasched-soak scheduler: " << describe(published.error()) << "\n";
    caf::anon_send_exit(opts.client, caf::exit_reason::user_shutdown);
    return 1;
  }
  std::cout << "listening on " << *published << std::endl;

  // Until told to stop: the figures the driver waits on, every 200 ms: this
  // scheduler's role and generation ("role-NAME.txt"), and the active's load
  // ("sched-stats.txt", which a standby does not write).
  caf::scoped_actor self{sys};
  self->monitor(*sched);
  std::string role = "alone";
  auto replace_file = [&](const std::string& file, const std::string& text) {
    auto tmp = dir + "/" + file + ".tmp";
    std::ofstream{tmp} << text;
    ::rename(tmp.c_str(), (dir + "/" + file).c_str());
  };
  auto write_stats = [&] {
    self->request(*sched, std::chrono::seconds(2), stats_atom::value)
      .receive(
        [&](const stats& s) {
          role = s.role;
          replace_file("role-" + name + ".txt", s.role + " " + std::to_string(s.generation) + "\n");
          if (s.role != "standby")
            replace_file("sched-stats.txt", std::to_string(s.pending) + " "
                                              + std::to_string(s.running) + " "
                                              + std::to_string(s.worker_node_count) + "\n");
        },
        [](caf::error&) {});
  };
  // A scheduler fenced by a standby's takeover steps down: its actor exits
  // (errc::standby), and so does this process, with 3, for the driver.
  auto stepped_down = [&] {
    bool down = false;
    self->receive([&](caf::down_msg& dm) { down = dm.source == sched->address(); },
                  caf::after(std::chrono::milliseconds(0)) >> [] {});
    return down;
  };
  while (!wait_stop_signal(stop_signals, std::chrono::milliseconds(200))) {
    write_stats();
    if (stepped_down()) {
      std::cerr << "gasched-soak scheduler " << name << ": stepped down\n";
      caf::anon_send_exit(opts.client, caf::exit_reason::user_shutdown);
      return 3;
    }
  }
  write_stats();
  if (role == "standby") {
    self->request(*sched, std::chrono::seconds(10), stop_atom::value)
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
    caf::anon_send_exit(opts.client, caf::exit_reason::user_shutdown);
    return 0;
  }

  // The sweep: every acknowledged task without a line here is awaited from
  // the journal (its result line was lost to a kill between the journal's
  // commit and the write), or reported unfinished or unknown. A task still
  // pending or running is reported unfinished at once, not awaited: an await
  // would wait for it to end, and its result would then come both ways.
  std::set<int64_t> unfinished_tags;
  self->request(*sched, std::chrono::seconds(10), unfinished_atom::value)
    .receive(
      [&](const std::vector<task>& ts) {
        for (auto& t : ts)
          unfinished_tags.insert(tag_of(t));
      },
      [](caf::error&) {});
  std::set<task_id> written = ids_in(dir + "/results.txt", 'R');
  std::map<task_id, int64_t> missing;  // id -> tag
  for (auto& f : files_starting(dir, "sub-"))
    for (auto& [id, tag] : tags_in(f))
      if (written.count(id) == 0)
        missing.emplace(id, tag);
  for (auto& [id, tag] : missing) {
    if (unfinished_tags.count(tag)) {
      append_line(results_fd, "U " + std::to_string(id) + "\n");
      continue;
    }
    self->request(*sched, std::chrono::seconds(2), await_atom::value, id)
      .receive(
        [&, id = id](const task_result& r) {
          append_line(results_fd, "A " + std::to_string(id) + " "
                                    + std::to_string(tag_of(r.task)) + " " + outcome(r) + "\n");
        },
        [&, id = id](caf::error& e) {
          append_line(results_fd, (e == errc::unknown_task ? "X " : "U ") + std::to_string(id)
                                    + "\n");
        });
  }
  self->request(*sched, std::chrono::seconds(10), stop_atom::value)
    .receive([](caf::ok_atom) {}, [](caf::error&) {});
  caf::anon_send_exit(opts.client, caf::exit_reason::user_shutdown);
  return 0;
}

// -- node -----------------------------------------------------------------------

namespace {

int exec_fd = -1;

void executed(int64_t tag) {
  append_line(exec_fd, std::to_string(tag) + " " + std::to_string(this_task::attempt()) + " "
                         + this_task::node_name() + "\n");
}

} // namespace

int run_node(int argc, char** argv) {
  // --dir DIR comes first; the rest is gasched-node's command line.
  if (argc < 3 || std::string{argv[1]} != "--dir") {
    std::cerr << "usage: gasched-soak node --dir DIR GASCHED-NODE-OPTIONS...\n";
    return 2;
  }
  exec_fd = open_append(std::string{argv[2]} + "/exec-" + std::to_string(::getpid()) + ".txt");
  registry reg;
  reg.add("soak.work", [](int64_t tag, int32_t ms) {
    executed(tag);
    this_task::sleep_for(std::chrono::milliseconds(ms));
    return value_of(tag);
  });
  reg.add("soak.flaky", [](int64_t tag, int32_t ms) {
    executed(tag);
    if (this_task::attempt() == 1)
      throw std::runtime_error("soak.flaky fails its first attempt");
    this_task::sleep_for(std::chrono::milliseconds(ms));
    return value_of(tag);
  });
  reg.add("soak.fail", [](int64_t tag) -> int64_t {
    executed(tag);
    throw std::runtime_error("soak.fail fails every attempt");
  });
  reg.add("soak.perm", [](int64_t tag) -> int64_t {
    executed(tag);
    throw permanent_failure("soak.perm never succeeds");
  });
  std::vector<char*> args{argv[0]};
  for (int i = 3; i < argc; ++i)
    args.push_back(argv[i]);
  return gasched::run_node(static_cast<int>(args.size()), args.data(), reg);
}

// -- client ---------------------------------------------------------------------

namespace {

struct client_setup {
  std::string dir;
  std::string name;
  int64_t tag_base = 0;
  double rate = 10;
  uint64_t seed = 1;
};

struct client_state {
  scheduler_actor sched;
  bool connected = false;
  bool stopping = false;
  double due = 0;  // tasks owed to the rate
  int64_t seq = 0;
  std::mt19937_64 rng;
  int sub_fd = -1;
  int del_fd = -1;
  std::set<task_id> outstanding;
  std::vector<task_id> reawait;
  std::shared_ptr<std::atomic<bool>> need_connect;
};

using client_actor = caf::stateful_actor<client_state>;

void await_one(client_actor* self, task_id id);

void lost_contact(client_actor* self) {
  if (self->state.connected) {
    self->state.connected = false;
    *self->state.need_connect = true;
  }
}

void await_one(client_actor* self, task_id id) {
  auto& st = self->state;
  if (!st.connected) {
    st.reawait.push_back(id);
    return;
  }
  self->request(st.sched, std::chrono::seconds(20), await_atom::value, id)
    .then(
      [self, id](const task_result& r) {
        // An await that outlived a reconnection may answer after the new one.
        if (self->state.outstanding.count(id) == 0)
          return;
        append_line(self->state.del_fd, "D " + std::to_string(id) + " " + outcome(r) + "\n");
        self->state.outstanding.erase(id);
      },
      [self, id](caf::error& e) {
        if (self->state.outstanding.count(id) == 0)
          return;
        if (e == errc::not_allowed || e == errc::unknown_task) {
          append_line(self->state.del_fd, "E " + std::to_string(id) + " " + code_name(e) + "\n");
          self->state.outstanding.erase(id);
          return;
        }
        if (e != caf::sec::request_timeout)
          lost_contact(self);
        self->state.reawait.push_back(id);
      });
}

task make_task(client_state& st, const client_setup& setup, char& kind) {
  int64_t tag = setup.tag_base + ++st.seq;
  auto pick = std::uniform_int_distribution<int>(0, 99)(st.rng);
  auto ms = [&](int lo, int hi) { return std::uniform_int_distribution<int32_t>(lo, hi)(st.rng); };
  if (pick < 70) {
    kind = 'w';
    return task{"soak.work", caf::make_message(tag, ms(1, 40))};
  }
  if (pick < 75) {
    kind = 'l';
    return task{"soak.work", caf::make_message(tag, ms(1000, 4000))};
  }
  if (pick < 85) {
    kind = 'y';
    return task{"soak.flaky", caf::make_message(tag, ms(1, 20))};
  }
  if (pick < 90) {
    kind = 'f';
    return task{"soak.fail", caf::make_message(tag)};
  }
  if (pick < 95) {
    kind = 'p';
    return task{"soak.perm", caf::make_message(tag)};
  }
  kind = 'c';
  return task{"soak.work", caf::make_message(tag, int32_t{8000})};
}

void submit(client_actor* self, const client_setup& setup) {
  auto& st = self->state;
  st.due += setup.rate / 10;
  auto n = static_cast<int>(st.due);
  st.due -= n;
  if (n == 0)
    return;
  std::vector<task> batch;
  std::vector<std::pair<int64_t, char>> kinds;
  for (int i = 0; i < n; ++i) {
    char kind = 0;
    batch.push_back(make_task(st, setup, kind));
    kinds.emplace_back(tag_of(batch.back()), kind);
  }
  self->request(st.sched, std::chrono::seconds(10), execute_atom::value, std::move(batch))
    .then(
      [self, kinds](const std::vector<task_id>& ids) {
        auto& st = self->state;
        std::string lines;
        for (size_t i = 0; i < ids.size() && i < kinds.size(); ++i)
          lines += "S " + std::to_string(ids[i]) + " " + std::to_string(kinds[i].first) + " "
                   + kinds[i].second + "\n";
        append_line(st.sub_fd, lines);
        for (size_t i = 0; i < ids.size() && i < kinds.size(); ++i) {
          auto id = ids[i];
          st.outstanding.insert(id);
          await_one(self, id);
          if (kinds[i].second == 'c')
            self->delayed_send(self, std::chrono::milliseconds(200), cancel_atom::value, id);
        }
      },
      [self](caf::error& e) {
        if (e != caf::sec::request_timeout)
          lost_contact(self);
      });
}

caf::behavior client(client_actor* self, client_setup setup,
                     std::shared_ptr<std::atomic<bool>> need_connect) {
  auto& st = self->state;
  st.rng.seed(setup.seed);
  st.sub_fd = open_append(setup.dir + "/sub-" + setup.name + ".txt");
  st.del_fd = open_append(setup.dir + "/del-" + setup.name + ".txt");
  st.need_connect = need_connect;
  self->set_down_handler([self](caf::down_msg& dm) {
    if (dm.source == self->state.sched.address())
      lost_contact(self);
  });
  self->send(self, tick_atom::value);
  return {
    [self](scheduler_actor s) {
      auto& st = self->state;
      st.sched = s;
      st.connected = true;
      self->monitor(s);
      // Requests to the scheduler that was lost may never be answered: await
      // everything again from the one found now.
      st.reawait.clear();
      std::vector<task_id> again(st.outstanding.begin(), st.outstanding.end());
      for (auto id : again)
        await_one(self, id);
    },
    [self, setup](tick_atom) {
      auto& st = self->state;
      if (st.connected && !st.stopping)
        submit(self, setup);
      if (st.connected && !st.reawait.empty()) {
        auto again = std::move(st.reawait);
        st.reawait.clear();
        for (auto id : again)
          await_one(self, id);
      }
      if (st.stopping && st.outstanding.empty()) {
        self->quit();
        return;
      }
      self->delayed_send(self, std::chrono::milliseconds(100), tick_atom::value);
    },
    [self](cancel_atom, task_id id) {
      auto& st = self->state;
      if (!st.connected)
        return;
      self->request(st.sched, std::chrono::seconds(10), cancel_atom::value, id)
        .then([self, id](caf::ok_atom) {
                append_line(self->state.sub_fd, "C " + std::to_string(id) + "\n");
              },
              [](caf::error&) {});
    },
    [self](stop_atom_) { self->state.stopping = true; },
  };
}

} // namespace

int run_client(int argc, char** argv) {
  CLI::App app{"gasched-soak client"};
  client_setup setup;
  std::string tls_dir;
  std::string ports;
  app.add_option("--dir", setup.dir)->required();
  app.add_option("--name", setup.name)->required();
  app.add_option("--tag-base", setup.tag_base)->required();
  app.add_option("--rate", setup.rate);
  app.add_option("--seed", setup.seed);
  app.add_option("--connect", ports, "PORT[,PORT...] on 127.0.0.1: the schedulers")->required();
  app.add_option("--tls", tls_dir);
  CLI11_PARSE(app, argc, argv);
  auto stop_signals = block_stop_signals();

  caf::actor_system_config cfg;
  if (auto err = init_config(cfg, tls_dir)) {
    std::cerr << describe(err) << "\n";
    return 1;
  }
  caf::actor_system sys{cfg};
  std::string addresses;
  for (size_t at = 0; at < ports.size();) {
    auto comma = std::min(ports.find(',', at), ports.size());
    addresses += (at ? "," : "") + std::string{"127.0.0.1:"} + ports.substr(at, comma - at);
    at = comma + 1;
  }
  auto schedulers = parse_addresses(addresses);
  if (!schedulers) {
    std::cerr << "gasched-soak client: --connect wants PORT[,PORT...], got " << ports << "\n";
    return 2;
  }
  auto need_connect = std::make_shared<std::atomic<bool>>(true);
  auto me = sys.spawn(client, setup, need_connect);
  caf::scoped_actor self{sys};
  self->monitor(me);
  // The main thread connects (a blocking call) whenever the client lost its
  // scheduler, and on SIGTERM lets the client stop submitting and collect
  // what it awaits (two minutes at most).
  bool stopping = false;
  auto stop_by = std::chrono::steady_clock::time_point::max();
  for (;;) {
    if (need_connect->exchange(false)) {
      // One scheduler: connected to as before standbys existed; several:
      // the active one among them.
      auto s = schedulers->size() == 1
                 ? connect_scheduler(sys, schedulers->front().host, schedulers->front().port)
                 : connect_scheduler(sys, *schedulers);
      if (s)
        caf::anon_send(me, *s);
      else
        *need_connect = true;
    }
    if (!stopping) {
      if (wait_stop_signal(stop_signals, std::chrono::milliseconds(100))) {
        stopping = true;
        stop_by = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        caf::anon_send(me, stop_atom_::value);
      }
      continue;
    }
    bool gone = false;
    self->receive([&](caf::down_msg&) { gone = true; },
                  caf::after(std::chrono::milliseconds(100)) >> [] {});
    if (gone || std::chrono::steady_clock::now() > stop_by)
      break;
  }
  caf::anon_send_exit(me, caf::exit_reason::user_shutdown);
  return 0;
}

} // namespace gasched::soak
