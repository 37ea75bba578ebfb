#include "gasched_run/journal_checkpoint.hpp"

#include <stdexcept>

#include <nlohmann/json.hpp>

namespace gasched::run {

namespace {

using json = nlohmann::json;

// Bumped when the note's meaning changes: an older gasched-run refuses a
// newer note rather than misread it.
constexpr int note_version = 1;

} // namespace

std::string encode(const run_checkpoint& cp) {
  json tasks = json::array();
  for (auto& t : cp.tasks)
    tasks.push_back(json::array({t.line, t.id, t.function}));
  json texts = json::array();
  for (auto& [line, text] : cp.texts)
    texts.push_back(json::array({line, text}));
  json j{{"version", note_version},
         {"out_file", cp.out_file},
         {"ordered", cp.ordered},
         {"out", {{"bytes", cp.out.bytes}, {"hash", cp.out.hash}}},
         {"written",
          {{"ok", cp.out.counts.ok},
           {"failed", cp.out.counts.failed},
           {"malformed", cp.out.counts.malformed}}},
         {"input",
          {{"line", cp.input.line}, {"bytes", cp.input.bytes}, {"hash", cp.input.hash}}},
         {"tasks", std::move(tasks)},
         {"texts", std::move(texts)},
         {"max_id", cp.max_id},
         {"done", cp.done}};
  return j.dump();
}

run_checkpoint decode(const std::string& note, const std::string& journal) {
  auto refuse = [&](const std::string& why) {
    return std::runtime_error(journal + ": gasched-run's note in this journal " + why);
  };
  json j = json::parse(note, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw refuse("is not JSON");
  if (j.value("version", 0) != note_version)
    throw refuse("has version " + j.value("version", json{}).dump() + ", and this gasched-run "
                 + "reads version " + std::to_string(note_version));
  try {
    run_checkpoint cp;
    cp.out_file = j.at("out_file").get<bool>();
    cp.ordered = j.at("ordered").get<bool>();
    cp.out.bytes = j.at("out").at("bytes").get<uint64_t>();
    cp.out.hash = j.at("out").at("hash").get<uint64_t>();
    auto& w = j.at("written");
    cp.out.counts = {w.at("ok").get<uint64_t>(), w.at("failed").get<uint64_t>(),
                     w.at("malformed").get<uint64_t>()};
    auto& in = j.at("input");
    cp.input = {in.at("line").get<uint64_t>(), in.at("bytes").get<uint64_t>(),
                in.at("hash").get<uint64_t>()};
    for (auto& t : j.at("tasks"))
      cp.tasks.push_back(
        {t.at(0).get<uint64_t>(), t.at(1).get<task_id>(), t.at(2).get<std::string>()});
    for (auto& t : j.at("texts"))
      cp.texts.emplace_back(t.at(0).get<uint64_t>(), t.at(1).get<std::string>());
    cp.max_id = j.at("max_id").get<task_id>();
    cp.done = j.at("done").get<bool>();
    return cp;
  } catch (const json::exception& e) {
    throw refuse(std::string{"is damaged: "} + e.what());
  }
}

std::optional<run_checkpoint> make_checkpoint(run_checkpoint base, const result_writer& writer,
                                          const std::unordered_map<task_id, uint64_t>& in_flight) {
  std::unordered_map<uint64_t, task_id> id_of;
  id_of.reserve(in_flight.size());
  for (auto& [id, line] : in_flight)
    id_of.emplace(line, id);
  for (auto& h : writer.held_lines()) {
    if (!h.text.empty()) {  // a malformed line's output
      base.texts.emplace_back(h.line, std::move(h.text));
      continue;
    }
    auto id = h.id;
    if (!id) {
      auto it = id_of.find(h.line);
      if (it == id_of.end())
        return std::nullopt;
      id = it->second;
    }
    base.tasks.push_back({h.line, *id, std::move(h.function)});
  }
  return base;
}

void check_same_output(const run_checkpoint& cp, bool out_file, const std::string& journal) {
  if (cp.out_file == out_file)
    return;
  throw std::runtime_error(
    journal + " belongs to a run that wrote its results "
    + (cp.out_file ? std::string{"to a file (--out)"} : std::string{"to stdout"})
    + ": run the same command again (" + (cp.out_file ? "with" : "without")
    + " --out), or use another journal for another run");
}

} // namespace gasched::run
