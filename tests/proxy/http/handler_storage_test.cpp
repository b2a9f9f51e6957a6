#include <doctest/doctest.h>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "http/handler_storage.hpp"

using namespace tally::proxy;

TEST_CASE(
    "handler_storage: one operation in the room, a second beside it, an oversized one counted") {
  handler_storage<64> storage;
  void* first = storage.allocate(48);
  void* second = storage.allocate(48);  // the room is taken: Asio's cache
  CHECK(first != second);
  storage.deallocate(first, 48);
  CHECK(storage.allocate(64) == first);  // the room is free again, and fits exactly
  storage.deallocate(first, 64);
  storage.deallocate(second, 48);

  const auto before = handler_storage_oversized.load();
  void* big = storage.allocate(65);
  CHECK(big != first);
  CHECK(handler_storage_oversized.load() == before + 1);
  storage.deallocate(big, 65);
}

TEST_CASE("handler_storage: a timer wait bound to it lives in the room and gives it back") {
  boost::asio::io_context ioc;
  handler_storage<256> storage;
  using allocator = handler_storage_allocator<void, handler_storage<256>>;
  void* room = storage.allocate(8);  // learn where the room is
  storage.deallocate(room, 8);

  boost::asio::steady_timer timer(ioc, std::chrono::milliseconds(1));
  bool ran = false;
  const auto before = handler_storage_oversized.load();
  timer.async_wait(boost::asio::bind_allocator(allocator(storage),
                                               [&](boost::system::error_code ec) { ran = !ec; }));
  void* during = storage.allocate(8);  // the pending wait holds the room
  CHECK(during != room);
  storage.deallocate(during, 8);
  ioc.run();
  CHECK(ran);
  CHECK(handler_storage_oversized.load() == before);
  void* after = storage.allocate(8);  // the completed wait gave it back
  CHECK(after == room);
  storage.deallocate(after, 8);
}
