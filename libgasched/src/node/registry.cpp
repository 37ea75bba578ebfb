#include "gasched/registry.hpp"

#include <algorithm>

#include <cxxabi.h>

#include <cstdlib>
#include <memory>
#include <regex>

namespace gasched {

namespace detail {

std::string type_label(uint16_t nr, const std::type_info* info) {
  using caf::type_nr;
  switch (nr) {
    case type_nr<bool>::value: return "bool";
    case type_nr<int8_t>::value: return "int8_t";
    case type_nr<uint8_t>::value: return "uint8_t";
    case type_nr<int16_t>::value: return "int16_t";
    case type_nr<uint16_t>::value: return "uint16_t";
    case type_nr<int32_t>::value: return "int32_t";
    case type_nr<uint32_t>::value: return "uint32_t";
    case type_nr<int64_t>::value: return "int64_t";
    case type_nr<uint64_t>::value: return "uint64_t";
    case type_nr<float>::value: return "float";
    case type_nr<double>::value: return "double";
    case type_nr<std::string>::value: return "std::string";
    case type_nr<std::vector<std::string>>::value: return "std::vector<std::string>";
    default: break;
  }
  if (info == nullptr)
    return "type #" + std::to_string(nr);
  // The demangled name, without the noise of default template arguments.
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name{
    abi::__cxa_demangle(info->name(), nullptr, nullptr, &status), std::free};
  if (status != 0 || !name)
    return info->name();
  std::string result = name.get();
  static const std::regex noise{R"(, std::allocator<[^<>]*(<[^<>]*>)?[^<>]*> ?|std::__cxx11::)"};
  result = std::regex_replace(result, noise, "");
  static const std::regex spaced_close{R"( >)"};
  return std::regex_replace(result, spaced_close, ">");
}

} // namespace detail

registry& registry::add_function(std::string name, function fn) {
  if (name.empty())
    throw std::invalid_argument("gasched::registry: a function needs a name");
  if (!fn.call || !fn.accepts)
    throw std::invalid_argument("gasched::registry: " + name + " has no callable");
  auto [it, added] = functions_.emplace(std::move(name), std::move(fn));
  if (!added)
    throw std::invalid_argument("gasched::registry: " + it->first
                                + " is already registered");
  return *this;
}

const registry::function* registry::find(const std::string& name) const {
  auto it = functions_.find(name);
  return it != functions_.end() ? &it->second : nullptr;
}

std::vector<std::string> registry::names() const {
  std::vector<std::string> result;
  for (auto& entry : functions_)
    result.push_back(entry.first);
  std::sort(result.begin(), result.end());
  return result;
}

} // namespace gasched
