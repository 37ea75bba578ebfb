// TLS: what mutual TLS costs, beside plain, in the same run. A second actor
// system in this process holds a certificate of a CA made for the run; its
// runs alternate with the plain system's, so both see the same machine load.
// Its nodes are fresh processes started with --tls: no node is ever reached
// by both systems (they share this process's node id, which CAF would take
// for one peer).
#include "scenarios.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

namespace gasched::bench {

namespace {

// A CA and two members, "bench" (this process) and "node", in a fresh folder.
std::string make_certificates() {
  char dir[] = "/tmp/gasched-bench-tls-XXXXXX";
  if (mkdtemp(dir) == nullptr)
    throw std::runtime_error("tls: cannot make a temporary folder");
  auto cmd = std::string{GASCHED_SOURCE_DIR} + "/apps/scripts/gasched-certs " + dir
             + " bench node >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0)
    throw std::runtime_error("tls: gasched-certs failed: " + cmd);
  return dir;
}

} // namespace

void tls(context& c) {
  auto q = c.opts.quick;
  auto dir = make_certificates();
  auto cleanup = std::shared_ptr<void>(nullptr, [&](void*) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
  caf::actor_system_config cfg;
  if (auto err = init(cfg, {}, tls_options::from_dir(dir + "/bench")))
    throw std::runtime_error("tls: " + describe(err));
  cfg.set("scheduler.policy", caf::atom_from_string(c.opts.policy));
  if (c.opts.threads > 0)
    cfg.set("scheduler.max-threads", c.opts.threads);
  caf::actor_system tls_sys{cfg};
  auto tls_opts = c.opts;
  tls_opts.tls_dir = dir + "/node";

  size_t n = q ? 2000 : 100000;
  for (uint32_t prefetch : {0u, 10u, adaptive_prefetch}) {
    auto label = std::to_string(n) + " identity tasks, one batch, prefetch "
                 + (prefetch == adaptive_prefetch ? std::string{"adaptive (default)"}
                                                  : std::to_string(prefetch));
    figure plain{"tls", label + ", plain", "tasks/s", {}, "", ""};
    figure secure{"tls", label + ", mutual TLS", "tasks/s", {}, "", ""};
    figure share{"tls", label + ": TLS of plain", "%", {}, "",
                 "per pair of runs; the target is at least 80 %"};
    for (int i = 0; i < c.runs; ++i) {
      plain.runs.push_back(throughput_run(c.sys, c.opts, n, prefetch, true));
      secure.runs.push_back(throughput_run(tls_sys, tls_opts, n, prefetch, true));
      share.runs.push_back(100.0 * secure.runs.back() / plain.runs.back());
    }
    c.add(plain);
    c.add(secure);
    c.add(share);
  }
  size_t m = q ? 100 : 2000;
  figure plain{"tls", "round trip p50, " + std::to_string(m) + " sequential, plain", "us", {},
               "", ""};
  figure secure{"tls", "round trip p50, mutual TLS", "us", {}, "", ""};
  for (int i = 0; i < c.runs; ++i) {
    plain.runs.push_back(percentile(latency_run(c.sys, c.opts, m), 0.5));
    secure.runs.push_back(percentile(latency_run(tls_sys, tls_opts, m), 0.5));
  }
  c.add(plain);
  c.add(secure);
}

} // namespace gasched::bench
