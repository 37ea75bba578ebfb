// Task arguments, results and errors as bytes, with CAF's binary serializer.
//
// CAF 0.17 fails quietly in both directions: saving a message with a type
// that is not in the actor system's types writes nothing and logs to stderr,
// and loading one whose type it does not know, or that is cut short, gives an
// empty message and no error. These functions turn both into errors that say
// which types are at fault.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/message.hpp>

namespace gasched::detail {

/// Appends `x` to `buf`. Error: a type of `x` cannot be serialized.
caf::error append_blob(caf::actor_system& sys, const caf::message& x, std::vector<char>& buf);
caf::error append_blob(caf::actor_system& sys, const caf::error& x, std::vector<char>& buf);

/// Appends a message of one or two integers in the bytes CAF's serializer
/// writes, learned from it once per combination of types, without it
/// (append_blob's fast path): true; false, appending nothing, for any other
/// message.
bool append_int_blob(caf::actor_system& sys, const caf::message& x, std::vector<char>& buf);

/// Reads what append_blob wrote. Error: the bytes are not a whole message
/// of types this actor system knows (the error names them).
caf::error load_blob(caf::actor_system& sys, const void* data, size_t size, caf::message& x);
caf::error load_blob(caf::actor_system& sys, const void* data, size_t size, caf::error& x);

/// The type names a serialized message records ("point, @i64"), for errors.
std::string blob_types(const void* data, size_t size);

} // namespace gasched::detail
