// gasched-test-peer: a remote peer of a published scheduler, for the tests
// of who may do what. It connects (with --tls DIR: over TLS) and sends each
// ACTION in turn, printing one line per action: "ACTION ok [detail]" or
// "ACTION error CODE: TEXT". A connection failure prints "connect error ..."
// and exits 1.
//
//   gasched-test-peer [--tls DIR] HOST PORT ACTION...
//   ACTION: stop | set_max_workers | set_retry_timeout | add_node | exit |
//           stats | unfinished | execute | cancel:ID | await:ID | sleep:MS
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "gasched/gasched.hpp"

using namespace gasched;

namespace {

void print_error(const std::string& action, const caf::error& err) {
  std::cout << action << " error " << describe(err) << std::endl;
}

template <class T>
void ask(caf::scoped_actor& self, const caf::actor& sched, const std::string& action,
         std::function<std::string(T&)> detail, caf::message request) {
  self->request(sched, std::chrono::seconds(10), std::move(request))
    .receive([&](T& x) { std::cout << action << " ok " << detail(x) << std::endl; },
             [&](caf::error& err) { print_error(action, err); });
}

void run(caf::scoped_actor& self, const caf::actor& sched, const std::string& action) {
  auto none = [](auto&) { return std::string{}; };
  auto colon = action.find(':');
  auto arg = colon == std::string::npos ? 0 : std::stoull(action.substr(colon + 1));
  auto verb = action.substr(0, colon);
  if (verb == "stop")
    ask<caf::ok_atom>(self, sched, action, none, caf::make_message(stop_atom::value));
  else if (verb == "set_max_workers")
    ask<caf::ok_atom>(self, sched, action, none,
                      caf::make_message(set_max_workers_atom::value, uint32_t{0}));
  else if (verb == "set_retry_timeout")
    ask<caf::ok_atom>(self, sched, action, none,
                      caf::make_message(set_retry_timeout_atom::value, caf::timespan{0}));
  else if (verb == "add_node")
    ask<caf::ok_atom>(self, sched, action, none,
                      caf::make_message(add_node_atom::value, caf::actor{self}));
  else if (verb == "stats")
    ask<stats>(self, sched, action, [](stats& s) { return std::to_string(s.pending); },
               caf::make_message(stats_atom::value));
  else if (verb == "unfinished")
    ask<std::vector<task>>(self, sched, action,
                           [](std::vector<task>& ts) { return std::to_string(ts.size()); },
                           caf::make_message(unfinished_atom::value));
  else if (verb == "execute")
    ask<task_id>(self, sched, action, [](task_id& id) { return std::to_string(id); },
                 caf::make_message(execute_atom::value,
                                   task{"test.sleep", caf::make_message(int32_t{1},
                                                                        int32_t{60000})}));
  else if (verb == "cancel")
    ask<caf::ok_atom>(self, sched, action, none,
                      caf::make_message(cancel_atom::value, task_id{arg}));
  else if (verb == "await")
    ask<task_result>(self, sched, action, [](task_result& r) { return r.node; },
                     caf::make_message(await_atom::value, task_id{arg}));
  else if (verb == "exit") {
    self->send_exit(sched, caf::exit_reason::kill);
    self->send_exit(sched, caf::exit_reason::user_shutdown);
    std::cout << action << " sent" << std::endl;
  } else if (verb == "sleep") {
    std::this_thread::sleep_for(std::chrono::milliseconds(arg));
    std::cout << action << " ok" << std::endl;
  } else
    std::cout << action << " error unknown action" << std::endl;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args{argv + 1, argv + argc};
  tls_options tls;
  if (args.size() >= 2 && args[0] == "--tls") {
    tls = tls_options::from_dir(args[1]);
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.size() < 2) {
    std::cerr << "usage: gasched-test-peer [--tls DIR] HOST PORT ACTION...\n";
    return 2;
  }
  caf::actor_system_config cfg;
  if (auto err = init(cfg, {}, tls)) {
    std::cerr << "gasched-test-peer: " << describe(err) << "\n";
    return 1;
  }
  caf::actor_system sys{cfg};
  auto sched = connect(sys, args[0], static_cast<uint16_t>(std::stoi(args[1])));
  if (!sched) {
    std::cout << "connect error " << describe(sched.error()) << std::endl;
    return 1;
  }
  caf::scoped_actor self{sys};
  for (size_t i = 2; i < args.size(); ++i)
    run(self, *sched, args[i]);
  return 0;
}
