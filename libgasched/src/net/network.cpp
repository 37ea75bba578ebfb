// publish() and connect(): CAF's middleman calls with errors that name the address.
#include <caf/actor_cast.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>
#include <caf/openssl/remote_actor.hpp>
#include <caf/sec.hpp>

#include "gasched/errc.hpp"
#include "gasched/net.hpp"
#include "net/network_failure.hpp"
#include "net/tls.hpp"
#include "runtime/io_actors.hpp"

namespace gasched {

namespace detail {

bool tls_enabled(caf::actor_system& sys) {
  return sys.has_openssl_manager();
}

caf::io::middleman_actor middleman_of(caf::actor_system& sys) {
  return tls_enabled(sys) ? sys.openssl_manager().actor_handle()
                          : sys.middleman().actor_handle();
}

} // namespace detail

caf::io::middleman_actor connector(caf::actor_system& sys) {
  return detail::middleman_of(sys);
}

caf::expected<uint16_t> publish(caf::actor_system& sys, const caf::actor& whom,
                                uint16_t port, const std::string& host) {
  if (!whom)
    return make_error(errc::invalid_argument, "publish needs an actor");
  if (detail::on_io_thread(sys))
    return make_error(errc::network_error, "cannot publish on " + host + ":"
                                             + std::to_string(port) + ": "
                                             + detail::io_thread_blocking_call);
  // reuse_addr: a restarted process can take its port again at once
  // instead of failing while the old socket sits in TIME_WAIT.
  auto result = detail::tls_enabled(sys)
                  ? caf::openssl::publish(whom, port, host.c_str(), true)
                  : sys.middleman().publish(whom, port, host.c_str(), true);
  if (!result) {
    auto what = result.error() == caf::sec::cannot_open_port
                  ? "cannot listen on " + host + ":" + std::to_string(port) + ": "
                      + detail::listen_failure(host, port)
                  : "cannot publish on " + host + ":" + std::to_string(port) + ": "
                      + sys.render(result.error());
    return make_error(errc::network_error, what);
  }
  return result;
}

caf::expected<caf::actor> connect(caf::actor_system& sys, const std::string& host,
                                  uint16_t port) {
  // With heartbeats on, CAF 0.17 sometimes drops a connection whose handshake
  // spans a heartbeat tick, reporting connection_timeout after a few
  // milliseconds (measured here: about 1 connect in 30 on a loaded machine).
  // Such a failure says nothing about the peer: try again, a few times.
  if (detail::on_io_thread(sys))
    return make_error(errc::network_error, "cannot connect to " + host + ":"
                                             + std::to_string(port) + ": "
                                             + detail::io_thread_blocking_call);
  auto attempt = [&] {
    return detail::tls_enabled(sys) ? caf::openssl::remote_actor(sys, host, port)
                                    : sys.middleman().remote_actor(host, port);
  };
  auto result = attempt();
  for (int retry = 0; retry < 4 && !result
                      && result.error() == caf::sec::connection_timeout;
       ++retry)
    result = attempt();
  if (!result)
    return make_error(errc::network_error,
                      "cannot connect to " + host + ":" + std::to_string(port) + ": "
                        + detail::connect_failure(sys, result.error(), host, port));
  return result;
}

caf::expected<uint16_t> publish(caf::actor_system& sys, const scheduler_actor& whom,
                                uint16_t port, const std::string& host) {
  return publish(sys, caf::actor_cast<caf::actor>(whom), port, host);
}

caf::expected<scheduler_actor> connect_scheduler(caf::actor_system& sys,
                                                 const std::string& host, uint16_t port) {
  auto result = connect(sys, host, port);
  if (!result)
    return std::move(result.error());
  return caf::actor_cast<scheduler_actor>(std::move(*result));
}

std::optional<address> parse_address(const std::string& text,
                                     const std::string& default_host, uint16_t min_port) {
  auto colon = text.rfind(':');
  address result;
  result.host = colon == std::string::npos ? default_host : text.substr(0, colon);
  auto digits = colon == std::string::npos ? text : text.substr(colon + 1);
  if (result.host.empty() || digits.empty() || digits.size() > 5
      || digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  auto port = std::stoul(digits);
  if (port < min_port || port > 65535)
    return std::nullopt;
  result.port = static_cast<uint16_t>(port);
  return result;
}

} // namespace gasched
