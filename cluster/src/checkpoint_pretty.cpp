#include "checkpoint_pretty.hpp"

#include <boost/json/serialize.hpp>

namespace tally::cluster::detail {
namespace {

bool holds_array(const boost::json::value& value) {
  if (value.is_array()) return true;
  if (value.is_object())
    for (const auto& member : value.get_object())
      if (holds_array(member.value())) return true;
  return false;
}

void append_inline(std::string& out, const boost::json::value& value) {
  if (value.is_object()) {
    out += '{';
    bool first = true;
    for (const auto& member : value.get_object()) {
      if (!first) out += ", ";
      first = false;
      out += boost::json::serialize(boost::json::string_view(member.key()));
      out += ": ";
      append_inline(out, member.value());
    }
    out += '}';
    return;
  }
  out += boost::json::serialize(value);
}

void append_value(std::string& out, const boost::json::value& value, std::size_t depth) {
  if (!holds_array(value) || (value.is_array() && value.get_array().empty())) {
    append_inline(out, value);
    return;
  }
  const std::string inner(2 * (depth + 1), ' ');
  const char close = value.is_object() ? '}' : ']';
  out += value.is_object() ? "{\n" : "[\n";
  bool first = true;
  auto next_line = [&] {
    if (!first) out += ",\n";
    first = false;
    out += inner;
  };
  if (value.is_object()) {
    for (const auto& member : value.get_object()) {
      next_line();
      out += boost::json::serialize(boost::json::string_view(member.key()));
      out += ": ";
      append_value(out, member.value(), depth + 1);
    }
  } else {
    for (const auto& element : value.get_array()) {
      next_line();
      append_value(out, element, depth + 1);
    }
  }
  out += '\n';
  out.append(2 * depth, ' ');
  out += close;
}

}  // namespace

std::string pretty_json(const boost::json::value& value) {
  std::string out;
  append_value(out, value, 0);
  out += '\n';
  return out;
}

}  // namespace tally::cluster::detail
