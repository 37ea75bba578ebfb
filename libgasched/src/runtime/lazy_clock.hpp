// CAF's timer thread (timeouts and delayed messages), woken only when a new
// entry is due before the one it sleeps for.
//
// CAF 0.17's clock hands each change to its thread through a queue and wakes
// the thread for each: a request with a timeout wakes it twice (set, then
// cancel when the answer comes), a futex wake-up and a context switch each,
// on the path of every such round trip. Here a change is made under a
// mutex by the calling thread; the timer thread is woken only when the new
// entry is due before everything it already waits for (a 10 s request
// timeout while a 200 ms heartbeat tick is pending wakes nothing). A
// cancelled entry is simply removed: at worst the thread wakes at its old
// time and finds nothing due. Due entries are taken out under the mutex and
// delivered outside it (a delivery may drop the last reference to an actor,
// whose cleanup cancels its timeouts here).
#pragma once

#include <condition_variable>
#include <mutex>

#include <caf/detail/thread_safe_actor_clock.hpp>

namespace gasched::detail {

// Derived from CAF's thread-safe clock only because CAF's coordinator
// declares that type as its clock; none of its queue is used.
class lazy_clock final : public caf::detail::thread_safe_actor_clock {
public:
  using base = caf::detail::simple_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                            uint64_t id) override;
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override;
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type,
                         uint64_t id) override;
  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override;
  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override;
  void cancel_timeouts(caf::abstract_actor* self) override;
  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override;
  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender,
                        caf::message content) override;
  void cancel_all() override;

  /// The timer thread's loop; returns after stop().
  void run();
  void stop();

private:
  // Adds with `add` under the lock; wakes the thread if the earliest entry
  // is now earlier than before.
  template <class Add>
  void add(Add&& add);

  std::mutex mtx_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

} // namespace gasched::detail
