// Errors that say this process ran out of something (descriptors, kernel buffers, memory, local
// ports), not that the peer is broken. A backend is never marked down, ejected or voted against
// for them: a local shortage must not turn into a cluster-wide verdict that healthy backends are
// dead (issue 11).
#pragma once

#include <cerrno>
#include <string_view>

#include <boost/system/error_code.hpp>

namespace tally::health {

// True for EMFILE, ENFILE, ENOBUFS, ENOMEM and EADDRNOTAVAIL (no local port left).
inline bool local_resource_error(const boost::system::error_code& ec) noexcept {
  if (ec.category() != boost::system::system_category() &&
      ec.category() != boost::system::generic_category())
    return false;
  switch (ec.value()) {
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL:
      return true;
    default:
      return false;
  }
}

// A short label for metrics: "emfile", "enfile", "enobufs", "enomem", "eaddrnotavail", "other".
inline std::string_view resource_error_reason(const boost::system::error_code& ec) noexcept {
  if (!local_resource_error(ec)) return "other";
  switch (ec.value()) {
    case EMFILE:
      return "emfile";
    case ENFILE:
      return "enfile";
    case ENOBUFS:
      return "enobufs";
    case ENOMEM:
      return "enomem";
    default:
      return "eaddrnotavail";
  }
}

}  // namespace tally::health
