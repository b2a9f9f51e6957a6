// The completion token of every coroutine that does I/O in tally's libraries: co_await
// op(..., use_tuple) yields (error_code, result...) instead of throwing, so errors on I/O paths
// are values, handled where they occur. One definition for all (tally_common, header-only).
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace tally {

inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace tally
