#include "map_reader.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

#include "scalars.hpp"

namespace tally::config::detail {
namespace {

// Longer timers are surely typos, and the cap keeps later arithmetic (now + timeout, in
// nanoseconds) far from overflow.
constexpr duration longest_duration = std::chrono::hours{24 * 365};

std::string join(std::initializer_list<std::string_view> words) {
  std::string out;
  for (auto word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// "between 1 and 10", "at least 1": the range a value must fall in, for messages.
template <class T, class Format>
std::string range_phrase(T min, T max, T unbounded, Format format) {
  if (max == unbounded) return "at least " + format(min);
  return "between " + format(min) + " and " + format(max);
}

}  // namespace

map_reader::map_reader(const map_reader& parent, std::string_view key,
                       std::initializer_list<std::string_view> keys)
    : map_reader(parent.value(key), parent.value_mark(key), parent.field(key), keys,
                 parent.diag()) {}

map_reader::map_reader(const YAML::Node& node, const YAML::Mark& where, std::string path,
                       std::initializer_list<std::string_view> keys, diagnostics& diag)
    : path_(std::move(path)), mark_(mark_or(node, where)), diag_(diag) {
  if (node.IsNull()) {
    is_map_ = true;  // written but empty: every field keeps its default
    return;
  }
  if (!node.IsMap()) {
    auto name = path_.empty() ? std::string("the top level") : path_;
    diag_.report(mark_, name + " must be a map of key: value (one of: " + join(keys) + "), got " +
                            describe(node));
    return;
  }
  is_map_ = true;
  collect_entries(node, keys);
}

void map_reader::collect_entries(const YAML::Node& node,
                                 std::initializer_list<std::string_view> keys) {
  auto where = path_.empty() ? std::string("top level") : path_;
  for (const auto& pair : node) {
    const YAML::Node& key = pair.first;
    auto key_mark = mark_or(key, mark_);
    if (!key.IsScalar()) {
      diag_.report(key_mark, "keys in " + where + " must be plain words, got " + describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    if (std::find(keys.begin(), keys.end(), name) == keys.end()) {
      diag_.report(key_mark, "unknown key " + quoted(name) + " in " + where +
                                 "; expected one of: " + join(keys));
      has_unknown_keys_ = true;
      continue;
    }
    if (const entry* first = find(name)) {
      diag_.report(key_mark, "key " + quoted(name) + " is written twice in " + where +
                                 " (first at line " +
                                 std::to_string(mark_or(first->key_node, mark_).line + 1) +
                                 "); keep only one");
      continue;
    }
    entries_.push_back(entry{name, key, pair.second});
  }
}

const map_reader::entry* map_reader::find(std::string_view key) const {
  auto it =
      std::find_if(entries_.begin(), entries_.end(), [&](const entry& e) { return e.key == key; });
  return it == entries_.end() ? nullptr : &*it;
}

YAML::Node map_reader::value(std::string_view key) const {
  const entry* e = find(key);
  return e ? e->value : YAML::Node();
}

YAML::Mark map_reader::value_mark(std::string_view key) const {
  const entry* e = find(key);
  if (!e) return mark_;
  return mark_or(e->value, mark_or(e->key_node, mark_));
}

std::string map_reader::field(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

bool map_reader::require(std::string_view key, std::string_view how_to_fix) const {
  if (has(key)) return true;
  // A map with an unknown key most likely has the required one misspelled: that error says it.
  if (is_map_ && !has_unknown_keys_)
    diag_.report(mark_, "missing " + field(key) + "; " + std::string(how_to_fix));
  return false;
}

std::optional<std::string> map_reader::scalar(std::string_view key,
                                              std::string_view expected) const {
  const entry* e = find(key);
  if (!e) return std::nullopt;
  if (e->value.IsScalar()) return e->value.Scalar();
  diag_.report(value_mark(key),
               field(key) + " must be " + std::string(expected) + ", got " + describe(e->value));
  return std::nullopt;
}

std::optional<YAML::Node> map_reader::list(std::string_view key, std::string_view example) const {
  const entry* e = find(key);
  if (!e) return std::nullopt;
  if (e->value.IsNull()) return YAML::Node(YAML::NodeType::Sequence);
  if (e->value.IsSequence()) return e->value;
  diag_.report(value_mark(key), field(key) + " must be a list, like " + std::string(example) +
                                    ", got " + describe(e->value));
  return std::nullopt;
}

bool map_reader::read_duration(std::string_view key, duration& out, duration min) const {
  auto text = scalar(key, "a duration like 250ms or 2s");
  if (!text) return false;
  auto parsed = parse_duration(*text);
  if (!parsed.value && !parsed.too_large) {
    diag_.report(value_mark(key), "bad duration " + quoted(*text) + ": " + parsed.problem);
    return false;
  }
  if (!parsed.value || *parsed.value < min || *parsed.value > longest_duration) {
    auto range = min == duration{1}
                     ? "greater than 0 and at most " + format_duration(longest_duration)
                     : range_phrase(min, longest_duration, duration::max(), format_duration);
    diag_.report(value_mark(key), field(key) + " must be " + range + ", got " + quoted(*text));
    return false;
  }
  out = *parsed.value;
  return true;
}

bool map_reader::read_size(std::string_view key, std::uint64_t& out, std::uint64_t min,
                           std::uint64_t max) const {
  auto text = scalar(key, "a size like 16KiB or 10MiB");
  if (!text) return false;
  auto parsed = parse_size(*text);
  if (!parsed.value) {
    diag_.report(value_mark(key), "bad size " + quoted(*text) + ": " + parsed.problem);
    return false;
  }
  if (*parsed.value < min || *parsed.value > max) {
    auto range = range_phrase(min, max, std::numeric_limits<std::uint64_t>::max(), format_size);
    diag_.report(value_mark(key), field(key) + " must be " + range + ", got " + quoted(*text));
    return false;
  }
  out = *parsed.value;
  return true;
}

bool map_reader::read_whole_number(std::string_view key, std::uint64_t& out, std::uint64_t min,
                                   std::uint64_t max) const {
  auto to_text = [](std::uint64_t n) { return std::to_string(n); };
  auto range = range_phrase(min, max, std::numeric_limits<std::uint64_t>::max(), to_text);
  auto text = scalar(key, "a whole number " + range);
  if (!text) return false;
  auto parsed = parse_whole_number(*text);
  if (!parsed.value) {
    diag_.report(value_mark(key),
                 field(key) + " must be a whole number " + range + ", got " + quoted(*text));
    return false;
  }
  if (*parsed.value < min || *parsed.value > max) {
    diag_.report(value_mark(key), field(key) + " must be " + range + ", got " + quoted(*text));
    return false;
  }
  out = *parsed.value;
  return true;
}

bool map_reader::read_bool(std::string_view key, bool& out) const {
  auto text = scalar(key, "true or false");
  if (!text) return false;
  auto word = lowercase(*text);
  if (word == "true" || word == "yes") {
    out = true;
  } else if (word == "false" || word == "no") {
    out = false;
  } else {
    diag_.report(value_mark(key), field(key) + " must be true or false, got " + quoted(*text));
    return false;
  }
  return true;
}

bool map_reader::read_string(std::string_view key, std::string& out, bool allow_empty) const {
  const entry* e = find(key);
  if (allow_empty && e && e->value.IsNull()) {
    out.clear();
    return true;
  }
  auto text = scalar(key, "a single value");
  if (!text) return false;
  if (text->empty() && !allow_empty) {
    diag_.report(value_mark(key), field(key) + " must not be empty");
    return false;
  }
  out = std::move(*text);
  return true;
}

bool map_reader::read_address(std::string_view key, host_port& out, bool allow_port_zero) const {
  auto text = scalar(key, "an address host:port, like 127.0.0.1:8080");
  if (!text) return false;
  auto parsed = parse_host_port(*text);
  if (!parsed.value) {
    diag_.report(value_mark(key), "bad address " + quoted(*text) + ": " + parsed.problem);
    return false;
  }
  if (parsed.value->port == 0 && !allow_port_zero) {
    diag_.report(value_mark(key), "bad address " + quoted(*text) + ": port 0 is only allowed for " +
                                      "listen and admin.listen; use a port from 1 to 65535");
    return false;
  }
  out = std::move(*parsed.value);
  return true;
}

}  // namespace tally::config::detail
