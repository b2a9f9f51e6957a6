#include <doctest/doctest.h>

#include <string>

#include "http/request_target.hpp"

using namespace tally::proxy;

namespace {

// The normalised path, or "400" when it climbs above the root.
std::string normal(std::string_view path) {
  std::string storage;
  std::string_view out;
  if (!normalize_path(path, storage, out)) return "400";
  return std::string(out);
}

}  // namespace

TEST_CASE("normalize_path: a normal path is returned as it is, without a copy") {
  std::string storage;
  std::string_view out;
  const std::string_view path = "/a/b.c/d-e_f~g/";
  REQUIRE(normalize_path(path, storage, out));
  CHECK(out.data() == path.data());
  CHECK(out == path);
  CHECK(normal("/") == "/");
  CHECK(normal("*") == "*");
  CHECK(normal("/a%2Fb") == "/a%2Fb");
}

TEST_CASE("normalize_path: unreserved characters decoded - other escapes kept, upper-cased") {
  CHECK(normal("/%61dmin") == "/admin");
  CHECK(normal("/%7Euser/%2d%5F") == "/~user/-_");
  CHECK(normal("/a%2fb") == "/a%2Fb");
  CHECK(normal("/a%20b") == "/a%20b");
  // A '%' that starts no escape is 400: "%6%41" would decode to "%6A", decoded again upstream.
  CHECK(normal("/a%zzb") == "400");
  CHECK(normal("/a%4") == "400");
  CHECK(normal("/va%6%41b") == "400");
}

TEST_CASE("normalize_path: repeated slashes merged - dot-segments removed") {
  CHECK(normal("//admin") == "/admin");
  CHECK(normal("/a//b///c") == "/a/b/c");
  CHECK(normal("/api/../admin") == "/admin");
  CHECK(normal("/a/./b/.") == "/a/b/");
  CHECK(normal("/a/b/..") == "/a/");
  CHECK(normal("/a/b/../") == "/a/");
  CHECK(normal("/a/..") == "/");
  CHECK(normal("/.") == "/");
  CHECK(normal("/a/%2E%2E/b") == "/b");
  CHECK(normal("/a/..b/.c") == "/a/..b/.c");
}

TEST_CASE("normalize_path: a path that climbs above the root is refused") {
  CHECK(normal("/..") == "400");
  CHECK(normal("/../a") == "400");
  CHECK(normal("/a/../..") == "400");
  CHECK(normal("/%2e%2e/admin") == "400");
}

TEST_CASE("request_path: absolute-form gives its authority with the port, and its path") {
  std::string_view host = "internal.example", path;
  REQUIRE(request_path("http://public.example:8080/x?q=1", host, path));
  CHECK(host == "public.example:8080");
  CHECK(path == "/x");
  host = "h";
  REQUIRE(request_path("http://public.example", host, path));
  CHECK(host == "public.example");
  CHECK(path == "/");
  host = "h";
  REQUIRE(request_path("/o?x", host, path));
  CHECK(host == "h");
  CHECK(path == "/o");
}

TEST_CASE("request_path: an absolute URI that is not http(s) with a host is refused") {
  std::string_view host = "h", path;
  CHECK_FALSE(request_path("mailto:someone@example.com", host, path));
  CHECK_FALSE(request_path("ftp://example.com/x", host, path));
  CHECK_FALSE(request_path("http:///x", host, path));
  CHECK_FALSE(request_path("not a target", host, path));
  CHECK(host == "h");
  CHECK(request_path("HTTPS://Example.com/x", host, path));
}
