#include "gasched_run/no_nodes_watch.hpp"

#include <ctime>

#include <fmt/format.h>

namespace gasched::run {

namespace {

std::string wall_clock_now() {
  auto t = std::time(nullptr);
  std::tm local{};
  localtime_r(&t, &local);
  char text[16];
  std::strftime(text, sizeof(text), "%H:%M:%S", &local);
  return text;
}

} // namespace

no_nodes_watch::no_nodes_watch(std::chrono::seconds timeout, std::chrono::seconds notice_every)
  : timeout_(timeout), notice_every_(notice_every) {
}

no_nodes_watch::verdict no_nodes_watch::look(clock::time_point now, uint32_t nodes_up,
                                             uint64_t pending,
                                             const std::string& join_address) {
  if (nodes_up > 0) {
    since_.reset();
    return {};
  }
  if (!since_) {
    since_ = now;
    since_text_ = wall_clock_now();
    next_notice_ = now + notice_every_;
  }
  if (pending == 0)
    return {};
  auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - *since_);
  auto tasks = fmt::format("{} task{} pending", pending, pending == 1 ? "" : "s");
  auto join = join_address.empty()
                ? std::string{}
                : "; nodes join with: gasched-node --join " + join_address;
  verdict v;
  if (timeout_.count() > 0 && waited >= timeout_) {
    v.fatal = fmt::format("no node for {} s with {} (none up since {}){}; "
                          "--no-nodes-timeout sets how long to wait (0: forever)",
                          waited.count(), tasks, since_text_, join);
  } else if (now >= next_notice_) {
    next_notice_ = now + notice_every_;
    v.notice = fmt::format("no node up for {} s, {} since {}{}", waited.count(), tasks,
                           since_text_, join);
  }
  return v;
}

} // namespace gasched::run
