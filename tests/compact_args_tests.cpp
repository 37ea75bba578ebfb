// compact_args: how the pending queue stores a task's arguments, inline or
// by reference, and gives them back unchanged.
#include "core_support.hpp"

using namespace gasched;
using namespace gasched::core_test;

namespace {

// A message stored in compact_args comes back with the same values and types.
template <class... Ts>
void check_round_trip(bool expect_inline, const Ts&... xs) {
  compact_args args{caf::make_message(xs...)};
  CHECK(args.is_inline() == expect_inline);
  CHECK(holds(args.to_message(), xs...));
  // to_message() does not consume: a second call gives the same values.
  CHECK(holds(args.to_message(), xs...));
}

} // namespace

TEST_CASE("compact_args stores one or two scalars inline", "[core][compact_args]") {
  SECTION("one int32") {
    check_round_trip(true, int32_t{42});
    check_round_trip(true, int32_t{-7});
  }
  SECTION("one scalar of each kind") {
    check_round_trip(true, uint8_t{255});
    check_round_trip(true, int8_t{-1});
    check_round_trip(true, uint16_t{65535});
    check_round_trip(true, int16_t{-300});
    check_round_trip(true, 1.5f);
  }
  SECTION("two scalars of different types") {
    check_round_trip(true, int64_t{1} << 40, int32_t{-3});
    check_round_trip(true, 2.5, true);
    check_round_trip(true, false, uint32_t{4000000000u});
    check_round_trip(true, uint64_t{UINT64_MAX}, int32_t{1});
  }
  SECTION("the empty message") {
    compact_args args{caf::message{}};
    CHECK(args.is_inline());
    CHECK(args.to_message().empty());
    compact_args none;
    CHECK(none.is_inline());
    CHECK(none.to_message().empty());
  }
  SECTION("a type that differs only in signedness keeps its type") {
    // uint32 must not come back as int32.
    compact_args args{caf::make_message(uint32_t{7})};
    auto msg = args.to_message();
    CHECK(msg.match_elements<uint32_t>());
    CHECK_FALSE(msg.match_elements<int32_t>());
  }
}

TEST_CASE("compact_args keeps other messages by reference", "[core][compact_args]") {
  SECTION("a string") {
    check_round_trip(false, std::string{"hello"});
  }
  SECTION("three elements") {
    check_round_trip(false, int32_t{1}, int32_t{2}, int32_t{3});
  }
  SECTION("two int64: 16 bytes do not fit in 14") {
    check_round_trip(false, int64_t{-1}, int64_t{1} << 62);
    check_round_trip(false, 1.0, 2.0);
  }
  SECTION("a scalar next to a string") {
    check_round_trip(false, int32_t{1}, std::string{"x"});
  }
  SECTION("pairs with a small integer or a float") {
    check_round_trip(false, false, uint8_t{255});
    check_round_trip(false, int8_t{-1}, uint16_t{65535});
    check_round_trip(false, 1.5f, int32_t{2});
  }
  SECTION("the message's data is shared, not copied") {
    auto msg = caf::make_message(std::string{"shared"});
    auto data = msg.cvals().get();
    compact_args args{std::move(msg)};
    REQUIRE_FALSE(args.is_inline());
    CHECK(args.to_message().cvals().get() == data);
  }
}

TEST_CASE("compact_args: moves leave the source empty", "[core][compact_args]") {
  SECTION("inline, move construction") {
    compact_args a{caf::make_message(int32_t{5}, 1.5)};
    compact_args b{std::move(a)};
    CHECK(holds(b.to_message(), int32_t{5}, 1.5));
    CHECK(a.is_inline());  // NOLINT: checking the moved-from state on purpose
    CHECK(a.to_message().empty());
  }
  SECTION("heap, move construction and assignment") {
    auto keep = caf::make_message(std::string{"x"});
    auto data = keep.cvals().get();
    compact_args a{caf::message{keep}};
    CHECK(data->get_reference_count() == 2);
    compact_args b{std::move(a)};
    CHECK(a.to_message().empty());
    CHECK(data->get_reference_count() == 2);  // moved, not copied
    compact_args c;
    c = std::move(b);
    CHECK(b.to_message().empty());
    CHECK(holds(c.to_message(), std::string{"x"}));
    // Assigning over a heap value releases it.
    c = compact_args{caf::make_message(int32_t{1})};
    CHECK(data->get_reference_count() == 1);
    CHECK(holds(c.to_message(), int32_t{1}));
  }
  SECTION("destruction releases the shared data") {
    auto keep = caf::make_message(std::string{"x"});
    auto data = keep.cvals().get();
    {
      compact_args a{caf::message{keep}};
      CHECK(data->get_reference_count() == 2);
    }
    CHECK(data->get_reference_count() == 1);
  }
  SECTION("self-assignment keeps the value") {
    compact_args a{caf::make_message(std::string{"self"})};
    auto& alias = a;
    a = std::move(alias);
    CHECK(holds(a.to_message(), std::string{"self"}));
  }
}

TEST_CASE("compact_args is 16 bytes", "[core][compact_args]") {
  STATIC_REQUIRE(sizeof(compact_args) == 16);
}
