#include "gasched/init.hpp"

#include <chrono>
#include <cstdint>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/settings.hpp>

#include "gasched/errc.hpp"
#include "gasched/stats.hpp"
#include "gasched/task.hpp"
#include "net/tls.hpp"
#include "runtime/spin_wait.hpp"
#include "wire.hpp"

namespace gasched {

namespace {

// Sets `key` unless the application (or its command line) already did.
template <class T>
void set_default(caf::actor_system_config& cfg, caf::string_view key, T value) {
  if (caf::get_if(&cfg.content, key) == nullptr)
    cfg.set(key, std::move(value));
}

} // namespace

caf::error init(caf::actor_system_config& cfg, const heartbeat_options& heartbeats,
                const tls_options& tls) {
  if (cfg.type_names_by_rtti.count(std::type_index(typeid(task))) > 0)
    return caf::none;  // initialized already: the middleman must not load twice
  cfg.load<caf::io::middleman>();
  if (tls.enabled())
    if (auto err = detail::load_tls(cfg, tls))
      return err;
  // Public types: what clients send and receive.
  cfg.add_message_type<task>("gasched::task");
  cfg.add_message_type<task_result>("gasched::task_result");
  cfg.add_message_type<std::vector<task_result>>("std::vector<gasched::task_result>");
  cfg.add_message_type<node_load>("gasched::node_load");
  cfg.add_message_type<node_event>("gasched::node_event");
  cfg.add_message_type<std::vector<node_event>>("std::vector<gasched::node_event>");
  cfg.add_message_type<stats>("gasched::stats");
  cfg.add_message_type<std::vector<task_id>>("std::vector<gasched::task_id>");
  // Vectors of scalars are not built into CAF 0.17; tasks often take them.
  cfg.add_message_type<std::vector<int32_t>>("std::vector<int32_t>");
  cfg.add_message_type<std::vector<int64_t>>("std::vector<int64_t>");
  cfg.add_message_type<std::vector<double>>("std::vector<double>");
  // The protocol between schedulers and nodes.
  cfg.add_message_type<detail::node_info>("gasched::node_info");
  cfg.add_message_type<detail::lease_list>("gasched::lease_list");
  cfg.add_message_type<detail::retry_policy>("gasched::retry_policy");
  cfg.add_message_type<detail::run_order>("gasched::run_order");
  cfg.add_message_type<detail::run_batch>("gasched::run_batch");
  cfg.add_message_type<detail::run_outcome>("gasched::run_outcome");
  cfg.add_message_type<detail::done_batch>("gasched::done_batch");
  cfg.add_error_category(error_category,
                         [](uint8_t code, caf::atom_value, const caf::message& ctx) {
                           return describe(caf::error{code, error_category, ctx});
                         });
  // CAF's default policy, work stealing, polls for work: each idle thread
  // wakes every 10 ms, and after each message it spins and naps for another
  // 25 ms or so. A process that mostly waits (a scheduler between batches, a
  // node between tasks) then burns 1.3 % of a core doing nothing, 6 % in
  // gasched-run --serve. With "sharing", idle threads sleep until work
  // comes (measured here: 0 wake-ups a second against 390), and messages
  // go faster too (gasched-run: 1.3x the tasks/s; gasched-bench's identity
  // tasks 1.3-1.8x, its 5 ms tasks the same).
  set_default(cfg, "scheduler.policy", caf::atom("sharing"));
  detail::install_spin_wait(cfg);
  // One CAF thread. With "sharing", a message between two actors of the
  // process (client and scheduler) wakes a second thread, and the receiver
  // often runs there after its wake-up; with one thread it runs right after
  // the sender. gasched-bench's latency: 19-23 us over CAF's own round trip
  // instead of 30-33 (4 threads), its throughput the same. gasched's actors
  // never block (blocking task functions run on their task workers' own
  // threads); an application whose own actors compute sets
  // scheduler.max-threads.
  set_default(cfg, "scheduler.max-threads", size_t{1});
  // CAF never declares a hung peer (open socket, no answer) down by default.
  // A heartbeat every 200 ms and a 1 s timeout declare it down in about 1 s;
  // the timeout only works when every process of the cluster sends heartbeats.
  // BASP then deserializes on the I/O thread instead of handing each message
  // to a worker thread: one thread wake-up less per message. Trade-off: a
  // large message's decoding holds up reading the other connections; a
  // scheduler with many nodes on a machine with spare cores may set
  // middleman.workers=1 or more to decode in parallel.
  set_default(cfg, "middleman.workers", size_t{0});
  set_default(cfg, "middleman.heartbeat-interval", heartbeats.interval);
  set_default(cfg, "middleman.connection-timeout", heartbeats.timeout);
  return caf::none;
}

caf::error check_settings(const caf::actor_system_config& cfg) {
  return detail::check_spin_wait(cfg);
}

} // namespace gasched
