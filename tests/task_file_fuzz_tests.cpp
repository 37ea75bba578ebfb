// The task-file reader against hostile input: seeded mutations of valid
// lines (byte flips, truncation, stray brackets and quotes, invalid UTF-8,
// control bytes, deep nesting, duplicate keys, overlong lines). Every line
// must come out as a task or as an error with its number, the good ones as
// tasks, and nothing may crash. GASCHED_FUZZ_SEED=N repeats a run.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <caf/make_message.hpp>
#include <nlohmann/json.hpp>

#include "gasched/task.hpp"
#include "gasched_run/task_file.hpp"
#include "gasched_run/untrusted_text.hpp"

namespace {

using namespace gasched::run;

const std::vector<std::string> valid_lines{
  R"({"fn": "hello.world", "args": [1]})",
  R"({"fn": "test.sleep", "args": [9, 10], "priority": 5})",
  R"({"fn": "demo.bad"})",
  R"({"args": ["a", "b"], "fn": "x.y"})",
  R"({"fn": "f", "args": [[1, 2], [true, "s"], 1.5, -7, 12345678901]})",
  "{\"fn\": \"\xC3\xBCn\xC3\xAF\", \"args\": [\"\xE6\x97\xA5\xE6\x9C\xAC\", \"\\u00e9\\n\"]}",
  "  {\"fn\":\"spaces\"}\t ",
};

enum class expect { good, bad, either };

struct case_line {
  std::string text;
  expect outcome;
  std::string fn;  // of a good line
};

uint64_t pick_seed() {
  if (auto* env = std::getenv("GASCHED_FUZZ_SEED"))
    return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

size_t below(std::mt19937_64& rng, size_t n) {
  return n == 0 ? 0 : static_cast<size_t>(rng() % n);
}

// Offsets where a UTF-8 character starts: inserting there cannot complete a
// sequence that was left open.
size_t char_boundary(const std::string& s, std::mt19937_64& rng) {
  for (;;) {
    auto at = below(rng, s.size() + 1);
    if (at == s.size() || (static_cast<unsigned char>(s[at]) & 0xC0) != 0x80)
      return at;
  }
}

// A mutation whose outcome is known, or at least allowed both ways.
case_line mutate(const std::string& line, std::mt19937_64& rng) {
  static const std::vector<std::string> invalid_utf8{
    "\xFF", "\xFE", "\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82"};
  static const std::string stray = "[]{}\"\\,:";
  auto s = line;
  switch (rng() % 7) {
    case 0: {  // bit flips anywhere; a newline would split the line
      for (auto n = 1 + below(rng, 3); n > 0; --n) {
        auto& c = s[below(rng, s.size())];
        c = static_cast<char>(c ^ (1 << below(rng, 8)));
        if (c == '\n')
          c = ' ';
      }
      return {s, expect::either, {}};
    }
    case 1: {  // cut before the closing brace, after the opening one
      auto open = s.find('{'), close = s.rfind('}');
      return {s.substr(0, open + 1 + below(rng, close - open)), expect::bad, {}};
    }
    case 2:
      s.insert(char_boundary(s, rng), invalid_utf8[below(rng, invalid_utf8.size())]);
      return {s, expect::bad, {}};
    case 3:
      s.insert(below(rng, s.size() + 1), 1, stray[below(rng, stray.size())]);
      return {s, expect::either, {}};
    case 4: {  // a raw control byte is JSON nowhere (tab, CR and LF aside)
      char c = static_cast<char>(1 + below(rng, 8));
      s.insert(char_boundary(s, rng), 1, c);
      return {s, expect::bad, {}};
    }
    case 5: {  // nested beyond the limit, up to far beyond the stack's reach
      auto depth = max_nesting + below(rng, 40000);
      return {"{\"fn\": \"f\", \"args\": " + std::string(depth, '[') + std::string(depth, ']')
                + "}",
              expect::bad, {}};
    }
    default:  // a key given twice
      return {s.substr(0, s.rfind('}')) + ", \"fn\": \"other\"}", expect::bad, {}};
  }
}

case_line good(const std::string& line) {
  return {line, expect::good, nlohmann::json::parse(line)["fn"].get<std::string>()};
}

// Lines at the limits: the last one allowed and the first one refused.
std::vector<case_line> boundary_cases() {
  auto nested = [](size_t arrays) {
    return "{\"fn\": \"deep\", \"args\": " + std::string(arrays, '[') + std::string(arrays, ']')
           + "}";
  };
  auto long_line = [](size_t bytes) {
    std::string head = "{\"fn\": \"long\", \"args\": [\"", tail = "\"]}";
    return head + std::string(bytes - head.size() - tail.size(), 'x') + tail;
  };
  return {{nested(max_nesting - 1), expect::good, "deep"},
          {nested(max_nesting), expect::bad, {}},
          {long_line(max_line_bytes), expect::good, "long"},
          {long_line(max_line_bytes + 1), expect::bad, {}},
          {"{\"fn\": \"a\", \"fn\": \"b\"}", expect::bad, {}},
          {"{\"fn\": \"a\", \"args\": [{\"k\": 1, \"k\": 2}]}", expect::bad, {}},
          {"{\"fn\": \"x\xFFy\"}", expect::bad, {}},
          {std::string(200000, '['), expect::bad, {}}};
}

// What the reader made of line `number`.
struct outcome {
  const task_line* task = nullptr;
  const bad_line* bad = nullptr;
};

void check_line(const case_line& c, size_t number, const outcome& got) {
  INFO("line " << number << ": " << printable(c.text, 300));
  REQUIRE((got.task != nullptr) != (got.bad != nullptr));  // exactly one of them
  if (c.outcome == expect::good) {
    REQUIRE(got.task);
    CHECK(got.task->task.function == c.fn);
  } else if (c.outcome == expect::bad) {
    CHECK(got.bad);
  }
  if (got.bad) {
    INFO("reason: " << got.bad->reason);
    CHECK(!got.bad->reason.empty());
    // Shown on a terminal and written as JSON: nothing raw left in it.
    CHECK(!invalid_utf8_at(got.bad->reason));
    CHECK(printable(got.bad->reason, SIZE_MAX) == got.bad->reason);
    CHECK_NOTHROW(dump_safely(bad_line_to_json(*got.bad)));
  } else if (c.outcome == expect::either) {
    // Accepted: it must really be a JSON object naming a function.
    auto j = nlohmann::json::parse(c.text);
    CHECK(j.at("fn").is_string());
  }
}

void check_file(const std::vector<case_line>& cases) {
  std::string text;
  for (auto& c : cases)
    text += c.text + "\n";
  text.pop_back();  // the last line has no newline: it counts all the same
  std::istringstream in{text};
  auto file = read_task_file(in);
  std::vector<outcome> by_line(cases.size() + 1);
  for (auto& t : file.tasks) {
    REQUIRE((t.line >= 1 && t.line <= cases.size()));
    by_line[t.line].task = &t;
  }
  for (auto& b : file.bad) {
    REQUIRE((b.line >= 1 && b.line <= cases.size()));
    by_line[b.line].bad = &b;
  }
  CHECK(file.tasks.size() + file.bad.size() == cases.size());
  for (size_t i = 0; i < cases.size(); ++i)
    check_line(cases[i], i + 1, by_line[i + 1]);
}

} // namespace

TEST_CASE("task file fuzz: seeded mutations of valid lines are each reported by line number",
          "[run][tasks][fuzz]") {
  auto seed = pick_seed();
  std::cout << "task file fuzz: seed " << seed << " (GASCHED_FUZZ_SEED=" << seed
            << " repeats this run)" << std::endl;
  INFO("seed " << seed);
  std::mt19937_64 rng{seed};
  for (int file = 0; file < 8; ++file) {
    std::vector<case_line> cases;
    for (int i = 0; i < 1500; ++i) {
      auto& line = valid_lines[below(rng, valid_lines.size())];
      cases.push_back(rng() % 3 == 0 ? good(line) : mutate(line, rng));
    }
    check_file(cases);
  }
  check_file(boundary_cases());
}

TEST_CASE("task file: hostile values in results never stop the output", "[run][tasks]") {
  gasched::task_result r;
  r.id = 7;
  r.task.function = "fn\xFF";
  r.value = caf::make_message(std::string{"bad \xC3 byte"}, std::string{"\xED\xA0\x80"});
  r.node = "node\xFE";
  std::string text;
  REQUIRE_NOTHROW(text = dump_safely(result_to_json(3, r)));
  auto back = nlohmann::json::parse(text);
  CHECK(back["line"] == 3);
  CHECK(back["value"][0] == "bad \xEF\xBF\xBD byte");  // U+FFFD
  CHECK(!invalid_utf8_at(back["node"].get<std::string>()));
}

TEST_CASE("task file: printable escapes control bytes and cuts long text", "[run][tasks]") {
  CHECK(printable("a\x1B[31mb") == "a\\x1B[31mb");
  CHECK(printable("\xC3\xA9\xFF") == "\xC3\xA9\\xFF");
  CHECK(printable("\xC2\x9B") == "\\xC2\\x9B");  // C1 control (CSI)
  CHECK(printable(std::string(500, 'x'), 10) == std::string(10, 'x') + "...");
  CHECK(invalid_utf8_at("ok \xE6\x97\xA5") == std::nullopt);
  CHECK(invalid_utf8_at("ab\xC0\xAF") == 2u);
  CHECK(json_nesting(R"({"a": "[[[[", "b": [[1]]})", 100) == 3);
}
