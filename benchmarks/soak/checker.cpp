// The checker of gasched-soak: accounts for every task from the files the
// processes wrote (soak.hpp lists them), so that `--check-only DIR` finds the
// same as the run did. What it trusts: a client writes "S" only after the
// scheduler acknowledged the task, the scheduler's client writes "R" for
// each result it was sent, nodes write a line as each attempt starts.
#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "soak.hpp"

namespace gasched::soak {

namespace {

struct submitted {
  int64_t tag = 0;
  char kind = 0;
  std::string client;
  bool cancel_acked = false;
};

struct ending {
  char source = 0;  // R or A
  int64_t tag = 0;
  std::string outcome;
};

std::vector<std::string> files(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  if (auto* d = ::opendir(dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.rfind(prefix, 0) == 0)
        out.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string rest_of(std::istringstream& words) {
  std::string rest;
  std::getline(words >> std::ws, rest);
  return rest;
}

struct sample {
  long seconds = 0, age = 0, rss = 0, fds = 0, threads = 0;
  double cpu = 0;
  // Descriptors that are links between cluster processes (driver.cpp: a
  // node's or client's connections to its scheduler addresses, a
  // scheduler's accepted and journal connections), and their bound; 0 and
  // -1 in runs sampled before they were counted.
  long links = 0, link_limit = -1;
  long other_fds() const { return fds - links; }
};

std::string ids_text(const std::vector<uint64_t>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < 50; ++i)
    out += (i ? " " : "") + std::to_string(ids[i]);
  if (ids.size() > 50)
    out += " ... (" + std::to_string(ids.size()) + ")";
  return out.empty() ? "none" : out;
}

bool have_gnuplot() { return std::system("command -v gnuplot > /dev/null 2>&1") == 0; }

} // namespace

// Seconds after a fault healed until a sample counts for growth again: a node
// joins again within two heartbeat timeouts and a rejoin pause.
constexpr double settle_seconds = 10;

verdict check_dir(const std::string& dir, bool growth) {
  std::ostringstream r;
  std::map<uint64_t, submitted> subs;
  for (auto& f : files(dir, "sub-")) {
    auto client = f.substr(4, f.size() - 8);
    std::ifstream in{dir + "/" + f};
    for (std::string line; std::getline(in, line);) {
      std::istringstream words{line};
      char k = 0;
      uint64_t id = 0;
      words >> k >> id;
      if (k == 'S') {
        auto& s = subs[id];
        words >> s.tag >> s.kind;
        s.client = client;
      } else if (k == 'C') {
        subs[id].cancel_acked = true;
      }
    }
  }
  std::map<uint64_t, std::vector<ending>> ends;
  std::set<uint64_t> unfinished, unknown;
  {
    std::ifstream in{dir + "/results.txt"};
    for (std::string line; std::getline(in, line);) {
      std::istringstream words{line};
      char k = 0;
      uint64_t id = 0;
      words >> k >> id;
      if (k == 'R' || k == 'A') {
        ending e{k, 0, {}};
        words >> e.tag;
        e.outcome = rest_of(words);
        ends[id].push_back(e);
      } else if (k == 'U') {
        unfinished.insert(id);
      } else if (k == 'X') {
        unknown.insert(id);
      }
    }
  }
  std::map<int64_t, int> executions;
  long execution_lines = 0;
  for (auto& f : files(dir, "exec-")) {
    std::ifstream in{dir + "/" + f};
    int64_t tag = 0;
    for (std::string line; std::getline(in, line);) {
      std::istringstream words{line};
      if (words >> tag) {
        ++executions[tag];
        ++execution_lines;
      }
    }
  }

  // Every acknowledged task: ended exactly once, as its kind must end.
  std::vector<uint64_t> lost, duplicated, stuck, wrong, unexecuted;
  std::map<std::string, long> by_outcome;
  long from_journal = 0;
  for (auto& [id, s] : subs) {
    if (s.kind == 0)
      continue;  // a cancel line without its task: not acknowledged as submitted
    auto it = ends.find(id);
    if (it == ends.end()) {
      (unfinished.count(id) ? stuck : lost).push_back(id);
      continue;
    }
    auto& e = it->second;
    // Ended twice: two results sent to the scheduler's client. A sweep line
    // (A) beside a result line is the journal's copy of that one result (the
    // line came after the sweep looked), not a second ending; it must agree.
    auto sent = std::count_if(e.begin(), e.end(), [](const ending& x) { return x.source == 'R'; });
    if (sent > 1 || (sent == 0 && e.size() > 1))
      duplicated.push_back(id);
    from_journal += sent == 0;
    auto& out = e.front().outcome;
    auto ok = "ok " + std::to_string(value_of(s.tag));
    bool right = false;
    switch (s.kind) {
      case 'w': case 'l': case 'y': right = out == ok; break;
      case 'f': right = out == "err max_retries"; break;
      case 'p': right = out == "err permanent_failure"; break;
      case 'c': right = out == "err cancelled" || (!s.cancel_acked && out == ok); break;
    }
    for (auto& other : e)
      right = right && other.tag == s.tag && other.outcome == out;
    if (!right)
      wrong.push_back(id);
    by_outcome[std::string(1, s.kind) + " " + (out.rfind("ok", 0) == 0 ? "ok" : out.substr(4))]++;
    // A result no node could have made: no attempt started (or too few).
    auto ran = executions.count(s.tag) ? executions[s.tag] : 0;
    int needed = out.rfind("ok", 0) == 0 ? (s.kind == 'y' ? 2 : 1)
                 : out == "err max_retries"      ? static_cast<int>(max_retries)
                 : out == "err permanent_failure" ? 1
                                                  : 0;
    if (ran < needed)
      unexecuted.push_back(id);
  }
  long accepted_unacked = 0;
  for (auto& [id, e] : ends)
    if (!subs.count(id) || subs[id].kind == 0)
      ++accepted_unacked;

  // What each client received: never twice, always what the scheduler sent.
  std::vector<uint64_t> delivered_twice, delivered_wrong;
  long deliveries = 0;
  std::map<std::string, long> gave_up;
  for (auto& f : files(dir, "del-")) {
    auto client = f.substr(4, f.size() - 8);
    std::map<uint64_t, int> seen;
    std::ifstream in{dir + "/" + f};
    for (std::string line; std::getline(in, line);) {
      std::istringstream words{line};
      char k = 0;
      uint64_t id = 0;
      words >> k >> id;
      auto rest = rest_of(words);
      if (k == 'E') {
        gave_up[rest]++;
        continue;
      }
      if (k != 'D')
        continue;
      ++deliveries;
      if (++seen[id] == 2)
        delivered_twice.push_back(id);
      auto it = ends.find(id);
      auto sub = subs.find(id);
      if (it == ends.end() || it->second.front().outcome != rest || sub == subs.end()
          || sub->second.client != client)
        delivered_wrong.push_back(id);
    }
  }

  // Faults, by kind. With standbys the takeover is one, and each one the
  // nemesis caused (a killed active, one stopped beyond its lease) must show
  // as a change of the active scheduler, a stopped one as its stepping down.
  int standbys = 0;
  std::ifstream{dir + "/standbys.txt"} >> standbys;
  auto& kinds = fault_kinds(standbys > 0);
  long active_changes = -1, stepped_down = 0;
  std::map<std::string, std::vector<double>> became_active;  // per scheduler name
  std::map<std::string, long> faults;
  std::vector<std::pair<double, double>> unsettled;  // from a fault's start to settled after it
  long unexpected_exits = 0;
  double healed_at = -1;
  {
    std::ifstream in{dir + "/faults.txt"};
    for (std::string line; std::getline(in, line);) {
      std::istringstream words{line};
      double t = 0, lasts = 0;
      std::string kind, target;
      words >> t >> kind >> target >> lasts;
      if (std::find(kinds.begin(), kinds.end(), kind) != kinds.end())
        unsettled.emplace_back(t, t + lasts + settle_seconds);
      if (kind == "active") {
        ++active_changes;
        became_active[target].push_back(t);
      }
      else if (kind == "stepped-down")
        ++stepped_down;
      else if (kind == "healed")
        healed_at = t;
      else if (kind == "unexpected-exit")
        ++unexpected_exits;
      else if (kind != "drained" && !kind.empty())
        faults[kind]++;
    }
  }
  std::vector<std::string> missing_kinds;
  for (auto& k : kinds)
    if (!faults.count(k))
      missing_kinds.push_back(k);
  long takeovers_caused = faults["takeover"] + faults["scheduler-kill"];
  bool takeovers_seen = standbys == 0
                        || (active_changes >= takeovers_caused
                            && stepped_down >= faults["takeover"]);

  // Processes: /proc samples per life.
  std::map<std::string, std::map<int, std::vector<sample>>> lives;
  std::map<std::string, std::string> roles;
  {
    std::ifstream in{dir + "/samples.tsv"};
    std::string header;
    std::getline(in, header);
    for (std::string line; std::getline(in, line);) {
      std::istringstream words{line};
      sample s;
      std::string role, name;
      int life = 0;
      long pid = 0;
      if (words >> s.seconds >> role >> name >> life >> s.age >> pid >> s.rss >> s.fds >> s.threads
          >> s.cpu) {
        if (!(words >> s.links >> s.link_limit)) {
          s.links = 0;
          s.link_limit = -1;
        }
        lives[name][life].push_back(s);
        roles[name] = role;
      }
    }
  }
  // Growth is judged on calm samples only: during a fault and for a while
  // after it, a node holds an extra connection attempt or none, and the
  // scheduler a client's old and new connections. A leak outlives the fault
  // and shows in the calm samples that follow. And at constant load only:
  // once every fault healed the clients stop and close their connections.
  auto calm = [&](const sample& s) {
    return (healed_at < 0 || s.seconds < healed_at)
           && std::none_of(unsettled.begin(), unsettled.end(), [&](const auto& u) {
                return s.seconds >= u.first && s.seconds <= u.second;
              });
  };
  std::vector<std::string> growth_failures;
  long lives_checked = 0, calm_samples = 0;
  for (auto& [name, by_life] : lives) {
    if (roles[name] == "client")
      continue;
    for (auto& [life, all] : by_life) {
      // With standbys, a scheduler life that takes over mid-life is judged
      // as two: as a standby, then as the active one from the sample after
      // its takeover. Becoming active opens a second journal connection and
      // starts one more thread (8 threads as a standby, 9 active, in the
      // 30-minute run with standbys): a change of role, not growth; a leak
      // still shows within either part.
      std::vector<std::vector<sample>> parts{{}};
      auto& ups = became_active[name];
      for (auto& s : all) {
        auto born = static_cast<double>(s.seconds - s.age);
        bool active = standbys > 0 && std::any_of(ups.begin(), ups.end(), [&](double t) {
                        return t >= born - 1 && t <= static_cast<double>(s.seconds);
                      });
        if (active && parts.size() == 1 && !parts[0].empty())
          parts.emplace_back();
        parts.back().push_back(s);
      }
      for (auto& ss : parts) {
        auto base = std::find_if(ss.begin(), ss.end(),
                                 [&](const sample& s) { return s.age >= 300 && calm(s); });
        if (base == ss.end() || base + 1 == ss.end())
          continue;
        ++lives_checked;
        for (auto it = base + 1; it != ss.end(); ++it) {
          if (!calm(*it))
            continue;
          ++calm_samples;
          std::ostringstream why;
          if (it->rss > base->rss * 11 / 10)
            why << "RSS " << it->rss << " KiB > 110 % of " << base->rss;
          // With standbys, links follow the searches for the active scheduler
          // (one kept per scheduler address that refused): judged by their
          // bound; every other descriptor must stay exactly as it was.
          auto by_bound = standbys > 0 && it->link_limit >= 0 && base->link_limit >= 0;
          if (by_bound) {
            if (it->other_fds() != base->other_fds())
              why << (why.tellp() ? ", " : "") << "fds other than links " << it->other_fds() << " != " << base->other_fds();
            if (it->links > it->link_limit)
              why << (why.tellp() ? ", " : "") << "links " << it->links << " > their bound "
                  << it->link_limit;
          } else if (it->fds != base->fds) {
            why << (why.tellp() ? ", " : "") << "fds " << it->fds << " != " << base->fds;
          }
          if (it->threads != base->threads)
            why << (why.tellp() ? ", " : "") << "threads " << it->threads << " != " << base->threads;
          if (why.tellp()) {
            growth_failures.push_back(name + " life " + std::to_string(life) + " at "
                                      + std::to_string(it->seconds) + " s: " + why.str());
            break;
          }
        }
      }
    }
  }

  bool pass = lost.empty() && duplicated.empty() && stuck.empty() && wrong.empty()
              && unexecuted.empty() && delivered_twice.empty() && delivered_wrong.empty()
              && missing_kinds.empty() && unexpected_exits == 0 && !subs.empty()
              && takeovers_seen
              && (!growth || growth_failures.empty());

  r << "# gasched-soak report\n\n";
  r << "Verdict: **" << (pass ? "PASS" : "FAIL") << "**\n\n";
  r << "## Tasks\n\n";
  r << "| | count |\n|---|---|\n";
  r << "| acknowledged | " << subs.size() << " |\n";
  r << "| ended exactly once | " << subs.size() - lost.size() - stuck.size() - duplicated.size()
    << " |\n";
  r << "| of which found in the journal at the end (result line lost to a kill) | "
    << from_journal << " |\n";
  r << "| accepted but never acknowledged to a client (not counted above) | " << accepted_unacked
    << " |\n";
  r << "| lost | " << lost.size() << " |\n";
  r << "| duplicated (ended twice) | " << duplicated.size() << " |\n";
  r << "| stuck (unfinished after the drain) | " << stuck.size() << " |\n";
  r << "| wrong outcome or value | " << wrong.size() << " |\n";
  r << "| result without the attempts it needs | " << unexecuted.size() << " |\n";
  r << "| attempts started on nodes | " << execution_lines << " |\n";
  r << "| results received by clients | " << deliveries << " |\n";
  r << "| delivered twice to one client | " << delivered_twice.size() << " |\n";
  r << "| delivered with another outcome | " << delivered_wrong.size() << " |\n";
  for (auto& [code, n] : gave_up)
    r << "| client gave up awaiting (" << code << ") | " << n << " |\n";
  r << "\nLost: " << ids_text(lost) << "\n\nDuplicated: " << ids_text(duplicated)
    << "\n\nStuck: " << ids_text(stuck) << "\n\nWrong: " << ids_text(wrong)
    << "\n\nWithout attempts: " << ids_text(unexecuted)
    << "\n\nDelivered twice: " << ids_text(delivered_twice)
    << "\n\nDelivered wrong: " << ids_text(delivered_wrong) << "\n\n";
  r << "Outcomes by kind (w short, l long, y flaky, f always failing, p permanent failure, "
       "c cancelled):\n\n| kind outcome | tasks |\n|---|---|\n";
  for (auto& [k, n] : by_outcome)
    r << "| " << k << " | " << n << " |\n";
  r << "\n## Faults\n\n| kind | injected |\n|---|---|\n";
  for (auto& k : kinds)
    r << "| " << k << " | " << (faults.count(k) ? faults[k] : 0) << " |\n";
  r << "\nUnexpected process exits: " << unexpected_exits << ". Every fault healed at "
    << healed_at << " s.";
  if (!missing_kinds.empty()) {
    r << " Kinds never injected:";
    for (auto& k : missing_kinds)
      r << " " << k;
  }
  if (standbys > 0)
    r << "\n\nStandby schedulers: " << standbys << " beside the active one, on a PostgreSQL "
      << "journal.\nThe active scheduler changed " << std::max(active_changes, 0L)
      << " times (the nemesis killed it or stopped it\nbeyond its lease " << takeovers_caused
      << " times); " << stepped_down << " replaced schedulers stepped down when they\nwoke ("
      << faults["takeover"] << " stopped beyond the lease)"
      << (takeovers_seen ? "." : ": FEWER TAKEOVERS THAN FAULTS THAT FORCE ONE.");
  r << "\n\n## Processes\n\nSampled from /proc every 10 s; per process, over all its lives "
       "(first / last / max).\n\n| process | lives | samples | RSS MiB | fds | threads | CPU s "
       "|\n|---|---|---|---|---|---|---|\n";
  for (auto& [name, by_life] : lives) {
    std::vector<sample> all;
    double cpu = 0;
    for (auto& [life, ss] : by_life) {
      all.insert(all.end(), ss.begin(), ss.end());
      cpu += ss.back().cpu;
    }
    auto mx = [&](auto field) {
      long m = 0;
      for (auto& s : all)
        m = std::max(m, s.*field);
      return m;
    };
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "| %s | %zu | %zu | %.1f / %.1f / %.1f | %ld / %ld / %ld | %ld / %ld / %ld | "
                  "%.1f |\n",
                  name.c_str(), by_life.size(), all.size(), all.front().rss / 1024.0,
                  all.back().rss / 1024.0, mx(&sample::rss) / 1024.0, all.front().fds,
                  all.back().fds, mx(&sample::fds), all.front().threads, all.back().threads,
                  mx(&sample::threads), cpu);
    r << buf;
  }
  r << "\n## Growth\n\nRule: each life of the scheduler and of every node that lasts past\n"
       "its minute 5 keeps RSS within 110 % of its first calm sample from minute 5 on,\n"
       "and fds and threads equal to it, in every calm sample after it (calm: no fault\n"
       "under way, none healed in the last " << settle_seconds << " s, the load still\n"
       "on: before every fault healed and the clients stopped).\n";
  if (standbys > 0)
    r << "With standbys, fds are judged apart from links (a node's or client's connections\n"
         "to its scheduler addresses, a scheduler's accepted and journal connections):\n"
         "the other fds must equal the minute-5 sample's, the links stay within their bound\n"
         "(a node or client: one per scheduler address; a scheduler: one per node or\n"
         "client, two to the journal). A scheduler life that takes over is judged as two,\n"
         "as a standby and as the active one from its takeover on (the active one holds one\n"
         "more journal connection and one more thread).\n";
  r << "\n";
  if (lives_checked == 0)
    r << "Not measured: no process life reached minute 5 with a calm sample after it.\n";
  else
    r << "Lives checked: " << lives_checked << " (" << calm_samples
      << " calm samples after their minute-5 one); over the rule: " << growth_failures.size()
      << "\n";
  for (auto& g : growth_failures)
    r << "- " << g << "\n";
  if (!growth)
    r << "\n(The growth rule is reported, not part of the verdict.)\n";

  // The plot: RSS, fds and threads of every process over time.
  if (have_gnuplot() && !lives.empty()) {
    std::ofstream gp{dir + "/plot.gp"};
    gp << "set terminal pngcairo size 1200,900 noenhanced\nset output '" << dir
       << "/growth.png'\nset multiplot layout 3,1\nset key outside right\nset xlabel 'seconds'\n";
    auto panel = [&](const char* title, int column, const char* scale) {
      gp << "set title '" << title << "'\nplot ";
      bool first = true;
      for (auto& [name, by_life] : lives) {
        gp << (first ? "" : ", ") << "'< awk -F\"\\t\" \"\\$3==\\\"" << name << "\\\"\" " << dir
           << "/samples.tsv' using 1:($" << column << scale << ") with linespoints title '"
           << name << "'";
        first = false;
      }
      gp << "\n";
    };
    panel("RSS (MiB)", 7, "/1024.0");
    panel("open fds", 8, "");
    panel("threads", 9, "");
    gp << "unset multiplot\n";
    gp.close();
    if (std::system(("gnuplot " + dir + "/plot.gp > " + dir + "/plot.log 2>&1").c_str()) == 0)
      r << "\nPlot: growth.png (RSS, fds and threads of every process over the run).\n";
    else
      r << "\nPlot: gnuplot failed (see plot.log).\n";
  } else {
    r << "\nPlot: not drawn (gnuplot is not installed; samples.tsv has the figures).\n";
  }
  return {pass, r.str()};
}

} // namespace gasched::soak
