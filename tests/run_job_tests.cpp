// gasched-run's default job, the events example: its partial aggregates
// merge exactly, its totals are checked, and a node killed on purpose
// changes nothing in them.
#include <cstdint>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "event_job/event_aggregate.hpp"
#include "event_job/event_partial.hpp"
#include "run_support.hpp"

using namespace std::chrono_literals;
using namespace gasched::run_test;
using nlohmann::json;

namespace {

// 40 batches of a few thousand events, one node killed after 8 results: a
// node always has tasks running when it dies.
const std::vector<std::string> kill_job{"--batches", "40", "--games", "4", "--players", "1500",
                                        "--days", "3", "--kill-node-after", "8"};

} // namespace

TEST_CASE("event aggregates: a merge of partials counts each player once", "[run][events]") {
  using gasched::events::aggregate;
  using gasched::events::decode_partial;
  using gasched::events::encode_partial;
  auto event = [](int64_t ts, const char* game, int player, const char* rest) {
    return "{\"ts\":" + std::to_string(ts) + ",\"game\":\"" + game
           + "\",\"player\":" + std::to_string(player) + "," + rest + "}";
  };
  constexpr int64_t day1 = 1704067200;  // 2024-01-01
  constexpr int64_t day2 = day1 + 86400;
  std::vector<std::string> batch_a{
    event(day1 + 10, "g", 1, R"("type":"session_start")"),
    event(day1 + 20, "g", 1, R"("type":"progress","stage":"tutorial")"),
    event(day1 + 30, "g", 2, R"("type":"purchase","item":"x","amount_cents":199)"),
    "{\"ts\":1704067200,\"game\":",  // truncated
  };
  std::vector<std::string> batch_b{
    event(day1 + 40, "g", 1, R"("type":"design","event":"ui")"),  // player 1 again, day 1
    event(day2 + 10, "g", 1, R"("type":"session_start")"),
    event(day2 + 20, "h", 1, R"("type":"progress","stage":"level_5")"),
    event(day2 + 30, "g", 3, R"("type":"progress","stage":"nowhere")"),  // unknown stage
  };
  aggregate a, b, single;
  for (auto& l : batch_a) {
    a.add_line(l);
    single.add_line(l);
  }
  for (auto& l : batch_b) {
    b.add_line(l);
    single.add_line(l);
  }
  a.batches = b.batches = 1;
  single.batches = 2;
  // Through the wire format, as the results travel.
  auto merged = decode_partial(encode_partial(a));
  merged.merge(decode_partial(encode_partial(b)));
  CHECK(merged == single);
  CHECK(gasched::events::first_difference(merged, single).empty());
  auto& g = merged.games.at("g");
  CHECK(g.active_by_day.at(19723).size() == 2);  // players 1 and 2, player 1 once
  CHECK(g.active_by_day.at(19724).size() == 1);
  CHECK(g.players().size() == 2);
  CHECK(g.sessions == 2);
  CHECK(g.revenue_cents == 199);
  CHECK(g.reached[0].size() == 1);
  CHECK(merged.games.at("h").reached[1].size() == 1);
  CHECK(merged.malformed == 2);
  CHECK(merged.events == 6);
  CHECK(gasched::events::day_label(19723) == "2024-01-01");
  // A partial that went wrong is caught, not merged as zeros.
  CHECK_THROWS_AS(decode_partial("not an aggregate"), std::invalid_argument);
  auto changed = single;
  changed.games["g"].active_by_day[19724].insert(99);
  CHECK(gasched::events::first_difference(changed, single) == "g daily active players differ");
}

namespace {

// decode_partial's message for `bytes`, or "" when they decode.
std::string partial_error(const std::string& bytes) {
  try {
    gasched::events::decode_partial(bytes);
    return "";
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
}

std::string cbor(const json& doc) {
  std::string out;
  json::to_cbor(doc, out);
  return out;
}

} // namespace

TEST_CASE("event partials: malformed ones are refused, saying what is wrong",
          "[run][events]") {
  using gasched::events::aggregate;
  using gasched::events::encode_partial;
  aggregate a;
  a.batches = 1;
  a.add_line(R"({"ts":1704067210,"game":"g","player":7,"type":"session_start"})");
  a.add_line(R"({"ts":1704067220,"game":"g","player":9,"type":"progress","stage":"boss"})");
  auto valid = json::from_cbor(encode_partial(a));
  auto with = [&valid](const json::json_pointer& at, const json& value) {
    auto doc = valid;
    doc[at] = value;
    return cbor(doc);
  };
  CHECK(partial_error(encode_partial(a)).empty());
  auto has = [](const std::string& message, const std::string& part) {
    INFO(message);
    CHECK(message.find(part) != std::string::npos);
  };
  has(partial_error(""), "document is not CBOR");
  has(partial_error("not an aggregate"), "document is not CBOR");
  has(partial_error(encode_partial(a).substr(0, 20)), "document is not CBOR");
  has(partial_error(cbor({{"batches", 1}})), "document is not a partial aggregate");
  has(partial_error(cbor(json::array({1, 2}))), "document is not a partial aggregate");
  // from_cbor would recurse once per level: a stack overflow, not an error.
  has(partial_error(std::string(1000000, '\x81')), "nests deeper than a partial does");
  has(partial_error(with("/batches"_json_pointer, -1)), "partial.batches is out of range");
  has(partial_error(with("/games/g/events"_json_pointer, "many")),
      "partial.games[g].events is not an integer");
  auto no_sessions = valid;
  no_sessions["games"]["g"].erase("sessions");
  has(partial_error(cbor(no_sessions)), "partial.games[g].sessions is missing");
  has(partial_error(with("/games/g/active_by_day/0/1"_json_pointer, json::array({7, 0}))),
      "partial.games[g].active_by_day[0][1] lists a player twice");
  has(partial_error(with("/games/g/active_by_day/0/1"_json_pointer,
                         json::array({4000000000u, 4000000000u}))),
      "has a player id beyond 32 bits");
  has(partial_error(with("/games/g/reached"_json_pointer, json::array())),
      "partial.games[g].reached is not a list of 5 stages");
  has(partial_error(with("/games/g/reached/4/0"_json_pointer, 1.5)),
      "partial.games[g].reached.boss[0] is not a player id delta");
  // Whatever a byte is changed to, or wherever the bytes end: a result or
  // an invalid_argument (partial_error lets anything else escape).
  auto bytes = encode_partial(a);
  for (size_t i = 0; i < bytes.size(); ++i) {
    CHECK_NOTHROW(partial_error(bytes.substr(0, i)));
    for (int b = 0; b < 256; ++b) {
      auto changed = bytes;
      changed[i] = static_cast<char>(b);
      CHECK_NOTHROW(partial_error(changed));
    }
  }
}

TEST_CASE("gasched-run: the default job checks its merged totals and exits 0", "[run]") {
  scratch dir;
  run_process run{dir, small_job};
  auto status = run.finish();
  INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
  CHECK(status == 0);
  auto out = run.all_out();
  CHECK(out.find("check: OK, the merged totals equal a single-process computation of the "
                 "same 24 files")
        != std::string::npos);
  CHECK(out.find("space-miners") != std::string::npos);
  CHECK(out.find("funnel") != std::string::npos);
  CHECK(out.find("requeued: 0 tasks") != std::string::npos);
}

TEST_CASE("gasched-run --json: a summary that parses, with the checked totals", "[run]") {
  scratch dir;
  run_process run{dir, with(small_job, {"--json", "--data", dir.file("data")})};
  auto status = run.finish();
  INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
  REQUIRE(status == 0);
  auto summary = json::parse(run.all_out());
  CHECK(summary["ok"] == true);
  CHECK(summary["check"]["result"] == "passed");
  CHECK(summary["tasks"]["total"] == 24);
  CHECK(summary["tasks"]["succeeded"] == 24);
  CHECK(summary["tasks"]["failed"] == 0);
  REQUIRE(summary["games"].size() == 3);
  uint64_t events = 0;
  for (auto& node : summary["nodes"])
    events += node["events"].get<uint64_t>();
  CHECK(events == summary["events"].get<uint64_t>());
  for (auto& game : summary["games"]) {
    CHECK(game["players"].get<uint64_t>() <= 300);
    CHECK(game["dau"].size() == 3);
    CHECK(game["funnel"]["tutorial"].get<uint64_t>() >= game["funnel"]["boss"].get<uint64_t>());
  }
  // --data keeps the files: the batches and one partial per batch, no
  // temporary file left by the write-then-rename; and the nodes' stderr.
  size_t batches = 0, partials = 0, others = 0;
  CHECK(fs::is_regular_file(dir.file("data/node-logs/node-1.log")));
  for (auto& entry : fs::recursive_directory_iterator(dir.file("data"))) {
    if (!entry.is_regular_file() || entry.path().parent_path().filename() == "node-logs")
      continue;
    auto ext = entry.path().extension();
    (ext == ".jsonl" ? batches : ext == ".part" ? partials : others)++;
  }
  CHECK(batches == 24);
  CHECK(partials == 24);
  CHECK(others == 0);
}

TEST_CASE("gasched-run --kill-node-after: a node dies, the totals are still checked",
          "[run][failover]") {
  scratch dir;
  run_process run{dir, with(kill_job, {"--json", "--quiet"})};
  auto status = run.finish();
  INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
  REQUIRE(status == 0);
  auto summary = json::parse(run.all_out());
  CHECK(summary["ok"] == true);
  CHECK(summary["check"]["result"] == "passed");
  CHECK(summary["tasks"]["succeeded"] == 40);
  REQUIRE(summary.contains("killed"));
  auto killed = summary["killed"]["node"].get<std::string>();
  CHECK(summary["killed"]["after_results"] == 8);
  CHECK(summary["killed"]["running_then"].get<uint64_t>() >= 1);
  CHECK(summary["tasks"]["requeued"].get<uint64_t>() >= 1);
  // One result per task, whoever delivered it: the survivor, or the killed
  // node once it was restarted.
  uint64_t delivered = 0;
  for (auto& node : summary["nodes"])
    delivered += node["succeeded"].get<uint64_t>();
  CHECK(delivered == 40);
  // Supervision started it again, under its name, as a new process.
  REQUIRE(summary["restarts"].size() == 1);
  auto& restart = summary["restarts"][0];
  CHECK(restart["node"] == killed);
  CHECK(restart["by_kill_node_after"] == true);
  CHECK(restart["signal"] == SIGKILL);
  CHECK(restart["restarted"] == true);
  CHECK(restart["new_pid"] != restart["old_pid"]);
  REQUIRE(summary["killed"]["restart"].is_object());
  CHECK(summary["killed"]["restart"]["pid"] == restart["new_pid"]);
  CHECK(summary["killed"]["restart"]["seconds"].get<double>()
        >= summary["killed"]["seconds"].get<double>());
  CHECK(summary["node_losses"].get<uint64_t>() >= 1);
  CHECK(summary["tasks"]["unfinished"] == 0);
}

TEST_CASE("gasched-run --kill-node-after: the table says who was killed and what was requeued",
          "[run][failover]") {
  scratch dir;
  run_process run{dir, with(kill_job, {"--progress", "off"})};
  auto status = run.finish();
  INFO("stdout:\n" << run.all_out() << "stderr:\n" << run.err());
  REQUIRE(status == 0);
  auto out = run.all_out();
  CHECK(std::regex_search(out, std::regex{"killed \\(kill -9\\) after 8 results.*; restarted "
                                          "at [0-9.]+ s as pid [0-9]+"}));
  CHECK(std::regex_search(out, std::regex{"local node deaths: 1\n  at +[0-9.]+ s  node-[12] "
                                          "\\(pid [0-9]+\\) killed by signal 9 \\(SIGKILL\\) by "
                                          "--kill-node-after: restarted as pid [0-9]+"}));
  CHECK(std::regex_search(out, std::regex{"nodes: 2 joined, [1-9][0-9]* lost"}));
  CHECK(std::regex_search(out, std::regex{"requeued: [1-9][0-9]* tasks? went back to the queue"}));
  CHECK(out.find("check: OK") != std::string::npos);
  CHECK(run.err().find("killed node-") != std::string::npos);
}
