// serve_http: cpp-httplib's server on a thread of its own. Each request asks
// the scheduler by message (http/query.hpp) and renders the answer; nothing
// runs while nobody asks: the listening thread blocks in accept(), the
// workers on a condition variable.
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

#include <httplib.h>

#include "gasched/errc.hpp"
#include "gasched/http.hpp"
#include "http/dashboard.hpp"
#include "http/host_check.hpp"
#include "http/query.hpp"
#include "http/render.hpp"
#include "src/net/network_failure.hpp"

namespace gasched {

namespace detail::http {

// What a request handler needs; lives as long as the server.
struct endpoint {
  endpoint(caf::actor_system& s, scheduler_actor sched, http_options o)
    : sys(s), scheduler_(std::move(sched)), opts(std::move(o)) {
  }

  caf::actor_system& sys;
  scheduler_actor scheduler_;  // changed by follow(): read it through scheduler()
  http_options opts;
  host_check hosts{opts.host, opts.allowed_hosts};
  mutable std::mutex mx;

  scheduler_actor scheduler() const {
    std::lock_guard<std::mutex> guard{mx};
    return scheduler_;
  }
};

} // namespace detail::http

struct http_server::impl {
  impl(caf::actor_system& sys, scheduler_actor sched, http_options opts)
    : ep{sys, std::move(sched), std::move(opts)} {
  }

  detail::http::endpoint ep;
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};
};

namespace {

namespace detail_http = detail::http;
using detail_http::endpoint;

int64_t unix_ms_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

constexpr const char* json_type = "application/json";

// The scheduler did not answer (stopped, unreachable, too slow): 503, so that
// a scraper records a failed scrape instead of stale numbers.
void unavailable(httplib::Response& res, const caf::error& err, bool as_json) {
  res.status = 503;
  auto what = "scheduler unavailable: " + describe(err);
  if (as_json)
    res.set_content(detail_http::error_json(what), json_type);
  else
    res.set_content(what + "\n", "text/plain; charset=utf-8");
}

void get_stats(endpoint& x, httplib::Response& res, bool nodes_only) {
  auto s = detail_http::ask_stats(x.sys, x.scheduler(), x.opts.timeout);
  if (!s)
    return unavailable(res, s.error(), true);
  auto now = unix_ms_now();
  res.set_content(nodes_only ? detail_http::nodes_json(*s, now) : stats_json(*s, now),
                  json_type);
}

void get_metrics(endpoint& x, httplib::Response& res) {
  auto s = detail_http::ask_stats(x.sys, x.scheduler(), x.opts.timeout);
  if (!s)
    return unavailable(res, s.error(), false);
  res.set_content(prometheus_text(*s), "text/plain; version=0.0.4; charset=utf-8");
}

// ?state=pending|running (default: both) and ?limit=N (at most max_tasks).
void get_tasks(endpoint& x, const httplib::Request& req, httplib::Response& res) {
  auto state = detail_http::task_state::any;
  auto text = req.get_param_value("state");
  if (text == "pending")
    state = detail_http::task_state::pending;
  else if (text == "running")
    state = detail_http::task_state::running;
  else if (!text.empty() && text != "any") {
    res.status = 400;
    return res.set_content(detail_http::error_json("state must be pending or running"),
                           json_type);
  }
  auto limit = x.opts.max_tasks;
  if (req.has_param("limit")) {
    try {
      limit = std::min<size_t>(limit, std::stoul(req.get_param_value("limit")));
    } catch (const std::exception&) {
      res.status = 400;
      return res.set_content(detail_http::error_json("limit must be a number"), json_type);
    }
  }
  auto listing = detail_http::ask_tasks(x.sys, x.scheduler(), x.opts.timeout, state, limit);
  if (!listing)
    return unavailable(res, listing.error(), true);
  res.set_content(detail_http::tasks_json(*listing, state, limit), json_type);
}

// Before any route: a Host this endpoint does not answer to gets nothing
// else, the dashboard included (its script would read the API).
httplib::Server::HandlerResponse check_host(const endpoint& x, const httplib::Request& req,
                                            httplib::Response& res) {
  auto host = req.get_header_value("Host");
  if (req.get_header_value_count("Host") <= 1 && x.hosts.allows(host, req.local_addr))
    return httplib::Server::HandlerResponse::Unhandled;
  res.status = 403;
  res.set_content("403: this endpoint does not answer to Host \"" + host.substr(0, 100)
                    + "\"; it answers to localhost, 127.0.0.1, [::1], its own address and "
                      "the names in http_options::allowed_hosts (a defence against DNS "
                      "rebinding)\n",
                  "text/plain; charset=utf-8");
  return httplib::Server::HandlerResponse::Handled;
}

void add_routes(httplib::Server& svr, endpoint& x) {
  svr.set_pre_routing_handler([&x](const httplib::Request& req, httplib::Response& res) {
    return check_host(x, req, res);
  });
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    // Inline script and style only; it may fetch from here and nowhere else.
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'unsafe-inline'; "
                   "style-src 'unsafe-inline'; connect-src 'self'; img-src data:");
    res.set_content(detail_http::dashboard_html(), "text/html; charset=utf-8");
  });
  svr.Get("/api/stats", [&x](const httplib::Request&, httplib::Response& res) {
    get_stats(x, res, false);
  });
  svr.Get("/api/nodes", [&x](const httplib::Request&, httplib::Response& res) {
    get_stats(x, res, true);
  });
  svr.Get("/api/tasks", [&x](const httplib::Request& req, httplib::Response& res) {
    get_tasks(x, req, res);
  });
  svr.Get("/metrics", [&x](const httplib::Request&, httplib::Response& res) {
    get_metrics(x, res);
  });
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty())
      res.set_content(std::to_string(res.status) + ": see / for the dashboard, "
                      "/metrics, /api/stats, /api/nodes, /api/tasks\n",
                      "text/plain; charset=utf-8");
  });
}

void configure(httplib::Server& svr, endpoint& x) {
  auto threads = x.opts.threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // httplib's default adds SO_REUSEPORT, which would let a second process
  // share the port silently; SO_REUSEADDR alone allows a quick restart.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Long enough for a dashboard polling every second to keep its connection.
  svr.set_keep_alive_timeout(2);
  svr.set_keep_alive_max_count(1000);
  svr.set_payload_max_length(64 * 1024);  // GET only: no bodies expected
  svr.set_default_headers({{"Cache-Control", "no-store"},
                           {"X-Content-Type-Options", "nosniff"}});
  add_routes(svr, x);
}

// Binds now, so that the port is known and errors are reported here.
caf::error bind(httplib::Server& svr, http_options& o) {
  bool ok;
  if (o.port == 0) {
    auto port = svr.bind_to_any_port(o.host);
    ok = port > 0;
    if (ok)
      o.port = static_cast<uint16_t>(port);
  } else {
    ok = svr.bind_to_port(o.host, o.port);
  }
  if (!ok)
    return make_error(errc::network_error,
                      "cannot serve HTTP on " + o.host + ":" + std::to_string(o.port) + ": "
                        + detail::listen_failure(o.host, o.port, "gasched-run --http [HOST:]PORT"));
  return caf::none;
}

} // namespace

http_server::http_server(std::unique_ptr<impl> ptr) noexcept : impl_(std::move(ptr)) {
}

http_server::http_server(http_server&& other) noexcept = default;

http_server& http_server::operator=(http_server&& other) noexcept {
  if (this != &other) {
    stop();
    impl_ = std::move(other.impl_);
  }
  return *this;
}

http_server::~http_server() {
  stop();
}

const std::string& http_server::host() const noexcept {
  static const std::string none;
  return impl_ ? impl_->ep.opts.host : none;
}

uint16_t http_server::port() const noexcept {
  return impl_ ? impl_->ep.opts.port : 0;
}

std::string http_server::url() const {
  return "http://" + host() + ":" + std::to_string(port()) + "/";
}

void http_server::follow(scheduler_actor scheduler) {
  if (!impl_ || !scheduler)
    return;
  std::lock_guard<std::mutex> guard{impl_->ep.mx};
  impl_->ep.scheduler_ = std::move(scheduler);
}

void http_server::stop() {
  if (!impl_ || !impl_->thread.joinable())
    return;
  // httplib's stop() acts only once its loop runs; the loop starts within
  // microseconds of the thread, and ends at once when it finds the socket closed.
  while (!impl_->server.is_running() && !impl_->finished)
    std::this_thread::yield();
  impl_->server.stop();
  impl_->thread.join();
}

caf::expected<http_server> serve_http(caf::actor_system& sys, scheduler_actor scheduler,
                                      http_options opts) {
  if (!scheduler)
    return make_error(errc::invalid_argument, "serve_http needs a scheduler");
  if (opts.threads == 0)
    return make_error(errc::invalid_argument, "serve_http needs at least one thread");
  auto x = std::make_unique<http_server::impl>(sys, std::move(scheduler), std::move(opts));
  configure(x->server, x->ep);
  if (auto err = bind(x->server, x->ep.opts))
    return err;
  auto* raw = x.get();
  x->thread = std::thread([raw] {
    raw->server.listen_after_bind();
    raw->finished = true;
  });
  return http_server{std::move(x)};
}

caf::expected<http_server> serve_http(caf::actor_system& sys, scheduler_actor scheduler,
                                      std::string host, uint16_t port) {
  http_options opts;
  opts.host = std::move(host);
  opts.port = port;
  return serve_http(sys, std::move(scheduler), std::move(opts));
}

} // namespace gasched
