// Operating a scheduler over HTTP: a live dashboard, JSON, and Prometheus
// metrics, served from the scheduler's own process. Off unless a program
// calls serve_http.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "gasched/scheduler_actor.hpp"
#include "gasched/stats.hpp"

namespace gasched {

struct http_options {
  /// Address to listen on. Default: the loopback address, so nothing is
  /// exposed by accident; "0.0.0.0" for every interface. The endpoint has no
  /// authentication: anyone who reaches it sees the cluster's state.
  std::string host = "127.0.0.1";

  /// Port to listen on; 0 picks a free one (http_server::port() tells which).
  uint16_t port = 8080;

  /// How long a request waits for the scheduler's answer before it fails
  /// with 503. Default: 5 s.
  caf::timespan timeout = std::chrono::seconds(5);

  /// Most tasks /api/tasks lists (it always says how many there are).
  /// Default: 1000; ?limit=N asks for fewer.
  size_t max_tasks = 1000;

  /// Names the Host header of a request may carry besides localhost,
  /// 127.0.0.1, [::1], `host` and the address the request came in at: e.g.
  /// the machine's DNS name when serving beyond loopback ("name" or
  /// "name:port"; ports are not compared). Any other Host gets 403, so that
  /// a web page whose own name resolves to this address (DNS rebinding)
  /// cannot read the endpoint through a browser.
  std::vector<std::string> allowed_hosts;

  /// Threads serving connections. Default: 4. An open keep-alive connection
  /// holds one until 2 s after its last request: an open dashboard and a
  /// Prometheus scraper take one each; further clients wait for a free one.
  size_t threads = 4;
};

/// A running HTTP endpoint. Destroying it (or stop()) closes the socket and
/// joins its threads, so destroy it before the actor system. Idle, it costs
/// nothing: its threads block in accept() and on a condition variable, with
/// no timer; the scheduler is asked only when a request comes.
class http_server {
public:
  http_server(http_server&& other) noexcept;
  http_server& operator=(http_server&& other) noexcept;
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;
  ~http_server();

  /// The address it listens on, as given.
  const std::string& host() const noexcept;

  /// The port it listens on: the one asked for, or the one picked for 0.
  uint16_t port() const noexcept;

  /// "http://HOST:PORT/"
  std::string url() const;

  /// Serves `scheduler` from now on (a client that followed the active
  /// scheduler to another address after a takeover).
  void follow(scheduler_actor scheduler);

  /// Stops serving; waits for requests in progress (each bounded by the
  /// timeout). Idempotent.
  void stop();

private:
  struct impl;
  explicit http_server(std::unique_ptr<impl> ptr) noexcept;
  friend caf::expected<http_server> serve_http(caf::actor_system&, scheduler_actor,
                                               http_options);
  std::unique_ptr<impl> impl_;
};

/// Serves the dashboard of `scheduler` at "/", and /api/stats, /api/nodes,
/// /api/tasks?state=pending|running and /metrics. Meant for the scheduler's
/// own process; `scheduler` may also be remote (from gasched::connect), but
/// a remote scheduler lists to /api/tasks only the tasks this process
/// submitted (its access rules). Errors: errc::invalid_argument (no
/// scheduler, threads 0), errc::network_error naming the address (port in
/// use, not local).
caf::expected<http_server> serve_http(caf::actor_system& sys, scheduler_actor scheduler,
                                      http_options opts);

/// The same with only an address.
caf::expected<http_server> serve_http(caf::actor_system& sys, scheduler_actor scheduler,
                                      std::string host = "127.0.0.1", uint16_t port = 8080);

/// The JSON document of /api/stats (what `gasched-ctl --json` prints): every
/// field of `s` under its own name, node events with their kind as text,
/// plus `unix_ms` (`now_unix_ms`, when the snapshot was taken) and the
/// derived `submitted`, `finished` and `slots`.
std::string stats_json(const stats& s, int64_t now_unix_ms);

/// The Prometheus text exposition (format 0.0.4) of `s`, as /metrics serves it.
std::string prometheus_text(const stats& s);

/// Tasks accepted so far: finished (succeeded, failed, cancelled,
/// quarantined) plus pending and running. Refused tasks are not counted.
uint64_t submitted(const stats& s) noexcept;

/// Tasks that ended: succeeded + failed + cancelled + quarantined.
uint64_t finished(const stats& s) noexcept;

/// Slots of every node that is up.
uint64_t total_slots(const stats& s) noexcept;

} // namespace gasched
