#include "runtime/lazy_clock.hpp"

#include <utility>
#include <vector>

namespace gasched::detail {

template <class Add>
void lazy_clock::add(Add&& add) {
  std::unique_lock<std::mutex> guard{mtx_};
  bool had = !schedule_.empty();
  auto before = had ? schedule_.begin()->first : time_point{};
  add();
  if (!schedule_.empty() && (!had || schedule_.begin()->first < before))
    cv_.notify_one();
}

void lazy_clock::set_ordinary_timeout(time_point t, caf::abstract_actor* self,
                                      caf::atom_value type, uint64_t id) {
  add([&] { base::set_ordinary_timeout(t, self, type, id); });
}

void lazy_clock::set_request_timeout(time_point t, caf::abstract_actor* self,
                                     caf::message_id id) {
  add([&] { base::set_request_timeout(t, self, id); });
}

void lazy_clock::set_multi_timeout(time_point t, caf::abstract_actor* self,
                                   caf::atom_value type, uint64_t id) {
  add([&] { base::set_multi_timeout(t, self, type, id); });
}

// The entries a cancel removes hold references to `self` only, which is
// alive (it is the caller): dropping them under the lock cannot run a
// cleanup that comes back here.
void lazy_clock::cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) {
  std::lock_guard<std::mutex> guard{mtx_};
  base::cancel_ordinary_timeout(self, type);
}

void lazy_clock::cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) {
  std::lock_guard<std::mutex> guard{mtx_};
  base::cancel_request_timeout(self, id);
}

void lazy_clock::cancel_timeouts(caf::abstract_actor* self) {
  std::lock_guard<std::mutex> guard{mtx_};
  base::cancel_timeouts(self);
}

void lazy_clock::schedule_message(time_point t, caf::strong_actor_ptr receiver,
                                  caf::mailbox_element_ptr content) {
  add([&] { base::schedule_message(t, std::move(receiver), std::move(content)); });
}

void lazy_clock::schedule_message(time_point t, caf::group target,
                                  caf::strong_actor_ptr sender, caf::message content) {
  add([&] {
    base::schedule_message(t, std::move(target), std::move(sender), std::move(content));
  });
}

void lazy_clock::cancel_all() {
  schedule_map dropped;  // destroyed outside the lock: messages may hold actors
  {
    std::lock_guard<std::mutex> guard{mtx_};
    actor_lookup_.clear();
    dropped.swap(schedule_);
  }
}

void lazy_clock::run() {
  std::vector<unique_delayed_event_ptr> due;
  std::unique_lock<std::mutex> guard{mtx_};
  while (!stopped_) {
    if (schedule_.empty())
      cv_.wait(guard);
    else {
      // A copy: the entry may be cancelled (and freed) while this waits.
      auto until = schedule_.begin()->first;
      cv_.wait_until(guard, until);
    }
    auto t = now();
    while (!schedule_.empty() && schedule_.begin()->first <= t) {
      auto i = schedule_.begin();
      auto ptr = std::move(i->second);
      if (ptr->backlink != actor_lookup_.end())
        actor_lookup_.erase(ptr->backlink);
      schedule_.erase(i);
      due.push_back(std::move(ptr));
    }
    if (due.empty())
      continue;
    guard.unlock();
    for (auto& x : due)
      ship(*x);
    due.clear();
    guard.lock();
  }
  guard.unlock();
  cancel_all();
}

void lazy_clock::stop() {
  std::lock_guard<std::mutex> guard{mtx_};
  stopped_ = true;
  cv_.notify_one();
}

} // namespace gasched::detail
