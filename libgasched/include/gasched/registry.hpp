// The task functions a node can run, by name. Each takes its arguments from
// the task's caf::message, typed: a task whose arguments do not match gets
// errc::bad_arguments without the function being called.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/type_nr.hpp>

namespace gasched {

/// Thrown by a task function to end its task with errc::permanent_failure at
/// once, without further attempts (gascheduler's gascheduler_permanent_failure).
class permanent_failure : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

namespace detail {

template <class F>
struct callable : callable<decltype(&F::operator())> {};
template <class R, class... Ts>
struct callable<R(Ts...)> {
  using result = R;
  using args = std::tuple<std::decay_t<Ts>...>;
};
template <class R, class... Ts>
struct callable<R (*)(Ts...)> : callable<R(Ts...)> {};
template <class C, class R, class... Ts>
struct callable<R (C::*)(Ts...) const> : callable<R(Ts...)> {};
template <class C, class R, class... Ts>
struct callable<R (C::*)(Ts...)> : callable<R(Ts...)> {};

/// "int32_t", "std::string", or the demangled C++ name.
std::string type_label(uint16_t type_nr, const std::type_info* info);

template <class T>
std::string type_label() {
  return type_label(caf::type_nr<T>::value, &typeid(T));
}

} // namespace detail

/// How a task function runs on its node (registry::add). A blocking function
/// gets a thread of its own task-worker actor; a non-blocking one runs on the
/// task-worker actor itself, on one of CAF's threads (or on CAF's I/O thread
/// with gasched.io-actors=idle, init.hpp), with no hand-off to
/// another thread: a shorter round trip (about one thread wake-up less each
/// way), but while it runs, no other actor of the process that shares that
/// thread (the node actor, a scheduler, a client; one thread under
/// gasched::init's defaults; on the I/O thread, no connection is read or
/// written either) handles a message. Declare non_blocking only a
/// function that returns in microseconds and never waits (no I/O, no sleep,
/// no lock held by others for long).
enum class call_mode { blocking, non_blocking };

class registry {
public:
  /// One registered function, type-erased.
  struct function {
    /// Parameter types, e.g. "(int32_t, std::string)"; "(caf::message)" for raw functions.
    std::string signature;
    /// Whether `args` fit the parameters.
    std::function<bool(const caf::message&)> accepts;
    /// Calls the function (args must be accepted); its result as a message.
    std::function<caf::message(const caf::message&)> call;
    /// Runs on a thread of its own (the default), or on the task-worker actor.
    call_mode mode = call_mode::blocking;
  };

  /// Registers `f` under `name`. `f` takes typed parameters and returns a
  /// value (sent back in task_result::value), void (an empty message) or a
  /// caf::message. A function taking `const caf::message&` gets the raw arguments.
  /// `mode`: call_mode::blocking (the default, safe for any function) or
  /// call_mode::non_blocking (see call_mode).
  /// Throws std::invalid_argument when `name` is empty or already taken.
  template <class F>
  registry& add(std::string name, F f, call_mode mode = call_mode::blocking) {
    using trait = detail::callable<std::decay_t<F>>;
    auto fn = make_function<typename trait::result>(std::move(f), typename trait::args{});
    fn.mode = mode;
    return add_function(std::move(name), std::move(fn));
  }

  /// Registers an already type-erased function.
  registry& add_function(std::string name, function fn);

  /// The function registered under `name`, or nullptr.
  const function* find(const std::string& name) const;

  /// Every registered name, sorted.
  std::vector<std::string> names() const;

  size_t size() const noexcept {
    return functions_.size();
  }

private:
  template <class R, class F, class... Ts>
  static function make_function(F f, std::tuple<Ts...>) {
    function fn;
    if constexpr (sizeof...(Ts) == 1
                  && (std::is_same<Ts, caf::message>::value && ...)) {
      fn.signature = "(caf::message)";
      fn.accepts = [](const caf::message&) { return true; };
    } else {
      fn.signature = "(";
      ((fn.signature += detail::type_label<Ts>() + ", "), ...);
      if (fn.signature.size() > 1)
        fn.signature.resize(fn.signature.size() - 2);
      fn.signature += ")";
      fn.accepts = [](const caf::message& m) { return m.match_elements<Ts...>(); };
    }
    fn.call = [f = std::move(f)](const caf::message& m) mutable -> caf::message {
      return invoke<R>(f, m, std::index_sequence_for<Ts...>{}, std::tuple<Ts...>{});
    };
    return fn;
  }

  template <class R, class F, size_t... Is, class... Ts>
  static caf::message invoke(F& f, const caf::message& m, std::index_sequence<Is...>,
                             std::tuple<Ts...>) {
    if constexpr (sizeof...(Ts) == 1
                  && (std::is_same<Ts, caf::message>::value && ...)) {
      return wrap<R>([&] { return f(m); });
    } else {
      return wrap<R>([&] { return f(m.get_as<Ts>(Is)...); });
    }
  }

  template <class R, class G>
  static caf::message wrap(G&& g) {
    if constexpr (std::is_void<R>::value) {
      g();
      return caf::message{};
    } else if constexpr (std::is_same<std::decay_t<R>, caf::message>::value) {
      return g();
    } else {
      return caf::make_message(g());
    }
  }

  std::unordered_map<std::string, function> functions_;
};

} // namespace gasched
