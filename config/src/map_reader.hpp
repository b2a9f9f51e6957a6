// Reading one YAML map of the schema (the top level, a section, a pool, a backend, ...).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "diagnostics.hpp"
#include "messages.hpp"
#include "tally/config/config.hpp"

namespace tally::config::detail {

// Construction reports what is wrong with the map itself: not a map, unknown keys, a key written
// twice. An empty value (`admin:` with nothing after it) reads as an empty map, so every field
// keeps its default. Each read_* function then reads one typed field: an absent key leaves `out`
// at its default; a bad value is reported at its position and also leaves `out` alone. They
// return true when `out` now holds a value from the file, so cross-field checks (timeout <=
// interval) only compare values that were actually read.
class map_reader {
 public:
  // `where` places errors about the map as a whole when the node itself has no position.
  // `path` names the map in messages: "" for the top level, "timeouts", "pools.web.retry".
  map_reader(const YAML::Node& node, const YAML::Mark& where, std::string path,
             std::initializer_list<std::string_view> keys, diagnostics& diag);
  // The map under `key` of `parent` (a section such as timeouts, or a pool's retry).
  map_reader(const map_reader& parent, std::string_view key,
             std::initializer_list<std::string_view> keys);

  bool is_map() const { return is_map_; }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  YAML::Node value(std::string_view key) const;  // a null node when absent
  // The value's position, or the key's when the value is empty or has none.
  YAML::Mark value_mark(std::string_view key) const;
  YAML::Mark mark() const { return mark_; }
  // The dotted name of a field for messages: "pools.web.retry.attempts".
  std::string field(std::string_view key) const;
  diagnostics& diag() const { return diag_; }

  // True when `key` is present. Otherwise reports it missing at the map (`how_to_fix` says what
  // to add) unless the map has an unknown key: most likely this one misspelled, already reported.
  bool require(std::string_view key, std::string_view how_to_fix) const;

  bool read_duration(std::string_view key, duration& out, duration min = duration{1}) const;
  bool read_size(std::string_view key, std::uint64_t& out, std::uint64_t min,
                 std::uint64_t max) const;
  bool read_whole_number(std::string_view key, std::uint64_t& out, std::uint64_t min,
                         std::uint64_t max) const;
  template <class Unsigned>
  bool read_whole_number(std::string_view key, Unsigned& out, std::uint64_t min,
                         std::uint64_t max) const {
    std::uint64_t wide = out;
    if (!read_whole_number(key, wide, min, max)) return false;
    out = static_cast<Unsigned>(wide);  // max fits Unsigned at every call site
    return true;
  }
  bool read_bool(std::string_view key, bool& out) const;
  bool read_string(std::string_view key, std::string& out, bool allow_empty = false) const;
  // Port 0 (pick any free port) only makes sense for our own listeners.
  bool read_address(std::string_view key, host_port& out, bool allow_port_zero = false) const;

  // The value when it is a list; an empty value reads as an empty list. Reports (and returns
  // nullopt) when it is a map or a single value; `example` shows the expected form. nullopt
  // without a report when the key is absent.
  std::optional<YAML::Node> list(std::string_view key, std::string_view example) const;

  // The text of a single value. Reports (and returns nullopt) when the value is empty, a map or
  // a list; `expected` completes "expected ..." in that message. nullopt without a report when
  // the key is absent.
  std::optional<std::string> scalar(std::string_view key, std::string_view expected) const;

 private:
  struct entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
  };

  const entry* find(std::string_view key) const;
  void collect_entries(const YAML::Node& node, std::initializer_list<std::string_view> keys);

  std::string path_;
  YAML::Mark mark_;
  diagnostics& diag_;
  bool is_map_ = false;
  bool has_unknown_keys_ = false;
  std::vector<entry> entries_;
};

}  // namespace tally::config::detail
