// What init's runtime changes to CAF (libgasched/src/runtime): the timer
// thread that is woken only for an entry due before the ones it waits for,
// actors that run on CAF's I/O thread, and that thread's poll before it
// sleeps.
#include <sys/epoll.h>
#include <unistd.h>

#include <ctime>
#include <string>
#include <thread>

#include "actor_support.hpp"
#include "runtime/spin_wait.hpp"

namespace gasched::testing {

namespace {

// Heartbeats off: their ticks would wake the timer thread every 200 ms and
// hide a timer that sleeps past a new, earlier entry.
struct quiet_config : actor_config {
  quiet_config() {
    set("middleman.heartbeat-interval", caf::timespan{0});
    set("middleman.connection-timeout", caf::timespan{0});
  }
};

} // namespace

TEST_CASE("CAF's timer delivers a delayed message due before the one it waits for, on time") {
  quiet_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  self->delayed_send(self, std::chrono::seconds(30), int32_t{30});
  // Each of these is due before the 30 s one; once the first has come, the
  // timer thread sleeps for that one again when the second is set.
  for (int32_t i = 1; i <= 2; ++i) {
    self->delayed_send(self, std::chrono::milliseconds(20), i);
    int32_t got = 0;
    self->receive([&](int32_t x) { got = x; },
                  caf::after(std::chrono::seconds(5)) >> [] {});
    CHECK(got == i);
  }
}

TEST_CASE("a request with a timeout that nobody answers fails with request_timeout") {
  quiet_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  // Holds a request until it ends: the caller's timeout must fire.
  // (Each spawn passes an argument, because CAF 0.17 binds a null reference
  // for a function actor spawned without any, which UBSan reports.)
  auto silent = sys.spawn(
    [](caf::event_based_actor* s, int) -> caf::behavior {
      return {[=](int32_t) { return s->make_response_promise<int32_t>(); }};
    },
    0);
  // A long timeout set first, so that the short one is due before it.
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto asker = sys.spawn(
    [=](caf::event_based_actor* s, int) {
      s->request(silent, std::chrono::seconds(30), int32_t{0}).then([](int32_t) {});
      s->request(silent, std::chrono::milliseconds(20), int32_t{1})
        .then([](int32_t) {}, [=](caf::error& e) { s->send(me, e); });
    },
    0);
  caf::error err;
  self->receive([&](caf::error& e) { err = std::move(e); },
                caf::after(std::chrono::seconds(5)) >> [] {});
  CHECK(err == caf::sec::request_timeout);
  self->send_exit(asker, caf::exit_reason::user_shutdown);
  self->send_exit(silent, caf::exit_reason::user_shutdown);
}

TEST_CASE("an actor on CAF's I/O thread that calls connect gets an error naming the thread") {
  // Two actor systems, each with its own I/O thread: a message from B's to
  // A's makes A's probe runnable on A's I/O thread (gasched.io-actors=idle),
  // where a blocking connect would wait for that very thread forever.
  actor_config cfg_a;
  caf::actor_system sys_a{cfg_a};
  auto probe = sys_a.spawn(
    [&sys_a](caf::event_based_actor*, int) -> caf::behavior {
      return {[&sys_a](uint16_t port) -> std::string {
        auto r = gasched::connect(sys_a, "127.0.0.1", port);
        return r ? std::string{"connected"} : describe(r.error());
      }};
    },
    0);
  auto port = gasched::publish(sys_a, probe, 0);
  REQUIRE(port);
  actor_config cfg_b;
  caf::actor_system sys_b{cfg_b};
  auto remote = gasched::connect(sys_b, "127.0.0.1", *port);
  REQUIRE(remote);
  caf::scoped_actor self{sys_b};
  // The I/O thread hands its actors to CAF's threads when sockets are ready
  // at that moment: then the probe connects; ask again.
  std::string said;
  for (int i = 0; i < 20 && said.find("I/O thread") == std::string::npos
                  && said.find("request failed") == std::string::npos;
       ++i)
    self->request(*remote, std::chrono::seconds(5), *port)
      .receive([&](std::string& s) { said = std::move(s); },
               [&](caf::error& e) { said = "request failed: " + describe(e); });
  CHECK(said.find("cannot connect to 127.0.0.1:" + std::to_string(*port)) != std::string::npos);
  CHECK(said.find("I/O thread") != std::string::npos);
  caf::anon_send_exit(probe, caf::exit_reason::user_shutdown);
}

TEST_CASE("the I/O thread does not poll after an event that ended a long sleep (an idle "
          "process's heartbeats)") {
  // libgasched's epoll_wait, as CAF's I/O thread calls it: forever (-1). A
  // byte every 30 ms (longer than io_spin_quiet_after) stands for a
  // heartbeat; with a 2 ms window, polling after each would cost about 2 ms
  // of this thread's CPU per event.
  detail::set_io_spin(std::chrono::milliseconds(2));
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  REQUIRE(epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev) == 0);
  const int events = 10;
  // The interval is what is measured, not a wait for a condition. The write
  // end is closed when the beats end, so the loop below always ends.
  std::thread beats{[&] {
    for (int i = 0; i < events; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      char c = 'x';
      if (write(fds[1], &c, 1) != 1)
        break;
    }
    close(fds[1]);
  }};
  auto cpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;  // ms
  };
  auto before = cpu();
  int seen = 0;
  for (bool open = true; open && seen < events;) {
    epoll_event got[4];
    REQUIRE(epoll_wait(ep, got, 4, -1) > 0);
    char buf[16];
    auto r = read(fds[0], buf, sizeof(buf));
    open = r != 0;  // 0: the write end closed
    if (r > 0)
      seen += static_cast<int>(r);  // bytes, not reads: two beats may land in one
  }
  auto used = cpu() - before;
  beats.join();
  close(ep);
  close(fds[0]);
  REQUIRE(seen == events);
  detail::set_io_spin(detail::default_io_spin);
  INFO("this thread's CPU over " << events << " events: " << used << " ms");
  CHECK(used < 5.0);
}

} // namespace gasched::testing
