// Finding the active scheduler among several addresses (gasched/active_search.hpp).
#include <algorithm>
#include <thread>

#include <caf/scoped_actor.hpp>

#include "gasched/active_search.hpp"
#include "gasched/errc.hpp"
#include "net/backoff.hpp"

namespace gasched {

std::optional<std::vector<address>> parse_addresses(const std::string& text, std::string* bad) {
  std::vector<address> result;
  size_t from = 0;
  while (from <= text.size()) {
    auto comma = text.find(',', from);
    auto item = text.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    auto a = parse_address(item);
    if (!a) {
      if (bad)
        *bad = item;
      return std::nullopt;
    }
    result.push_back(std::move(*a));
    if (comma == std::string::npos)
      break;
    from = comma + 1;
  }
  return result;
}

std::string to_string(const address& a) {
  return a.host + ":" + std::to_string(a.port);
}

caf::error make_standby_error(std::string sentence, std::string active) {
  return caf::error{static_cast<uint8_t>(errc::standby), error_category,
                    caf::make_message(std::move(sentence), std::move(active))};
}

std::optional<address> standby_active(const caf::error& e) {
  if (!is(e, errc::standby))
    return std::nullopt;
  // The address is the context's last string (a sentence comes before it).
  auto& ctx = e.context();
  for (size_t i = ctx.size(); i > 0; --i)
    if (ctx.match_element<std::string>(i - 1))
      return parse_address(ctx.get_as<std::string>(i - 1));
  return std::nullopt;
}

active_search::active_search(std::vector<address> candidates)
  : candidates_(std::move(candidates)) {
}

const address& active_search::next() {
  ++tried_;
  if (hint_) {
    current_ = std::move(*hint_);
    hint_.reset();
    return current_;
  }
  current_ = candidates_.empty() ? address{} : candidates_[next_++ % candidates_.size()];
  return current_;
}

void active_search::follow(const address& active) {
  hint_ = active;
}

bool active_search::round_over() const noexcept {
  // A named active is tried even at the end of a round, but two standbys
  // naming each other must not keep the round going.
  auto n = std::max<size_t>(candidates_.size(), 1);
  return tried_ >= n && (!hint_ || tried_ >= 2 * n);
}

void active_search::new_round() noexcept {
  tried_ = 0;
}

caf::expected<scheduler_actor> connect_scheduler(caf::actor_system& sys,
                                                 const std::vector<address>& addresses,
                                                 const active_search_options& opts,
                                                 address* found) {
  if (addresses.empty())
    return make_error(errc::invalid_argument, "connect_scheduler needs an address");
  active_search search{addresses};
  detail::backoff pause{opts.retry_min, opts.retry_max};
  auto deadline = std::chrono::steady_clock::now() + opts.give_up;
  std::string said;  // what each address said last
  auto cancelled = [&] { return opts.cancel && opts.cancel->load(); };
  auto stopped = [] {
    return make_error(errc::cancelled, "the search for the active scheduler was stopped");
  };
  for (;;) {
    if (cancelled())
      return stopped();
    auto where = search.next();
    std::string why;
    auto handle = connect(sys, where.host, where.port);
    if (!handle) {
      why = describe(handle.error());
    } else {
      auto sched = caf::actor_cast<scheduler_actor>(*handle);
      caf::scoped_actor self{sys};
      std::optional<stats> s;
      caf::error err;
      self->request(sched, opts.attempt_timeout, stats_atom::value)
        .receive([&](stats& x) { s = std::move(x); }, [&](caf::error& e) { err = std::move(e); });
      if (s && s->role != "standby") {
        if (found)
          *found = where;
        return sched;
      }
      auto active = s ? parse_address(s->active) : standby_active(err);
      if (active)
        search.follow(*active);
      why = s || is(err, errc::standby) ? "a standby (active: " + (active ? to_string(*active)
                                                                          : "unknown")
                                            + ")"
                                        : describe(err);
    }
    said += (said.empty() ? "" : "; ") + to_string(where) + ": " + why;
    if (!search.round_over())
      continue;
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(errc::network_error,
                        "no active scheduler within "
                          + std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                             opts.give_up).count())
                          + " s; last round: " + said);
    said.clear();
    search.new_round();
    for (auto until = std::chrono::steady_clock::now() + pause.next();
         std::chrono::steady_clock::now() < until;) {
      if (cancelled())
        return stopped();
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(50), until - std::chrono::steady_clock::now()));
    }
  }
}

} // namespace gasched
