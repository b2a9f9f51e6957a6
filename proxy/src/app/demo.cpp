#include "app/demo.hpp"

#include <iostream>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>

#include "tally/config/load.hpp"
#include "tally/proxy/app.hpp"
#include "tally/proxy/demo_backend.hpp"
#include "tally/proxy/log.hpp"

namespace tally::proxy {

namespace net = boost::asio;

// The embedded config `tally demo` runs (SPEC: listen 127.0.0.1:8080, admin 127.0.0.1:9901).
constexpr std::string_view demo_config_yaml =
    R"(# tally demo: three built-in backends behind one pool.
listen: 127.0.0.1:8080
admin:
  listen: 127.0.0.1:9901
workers: 2
access_log: { enabled: false }
pools:
  demo:
    policy: round_robin
    backends:
      - { address: 127.0.0.1:9001 }
      - { address: 127.0.0.1:9002 }
      - { address: 127.0.0.1:9003 }
    health_check: { path: /healthz, interval: 2s, timeout: 1s, rise: 2, fall: 3 }
routes:
  - { path_prefix: /, pool: demo }
)";

int run_demo() {
  auto loaded = config::load_config_string(demo_config_yaml, "<demo>");
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors)
      std::cerr << e.to_string() << "\n";
    return 1;
  }
  net::io_context backends_ctx{1};
  auto work = net::make_work_guard(backends_ctx);
  std::vector<std::unique_ptr<demo_backend>> backends;
  try {
    for (int i = 1; i <= 3; ++i)
      backends.push_back(std::make_unique<demo_backend>(backends_ctx, "demo-" + std::to_string(i),
                                                        static_cast<std::uint16_t>(9000 + i)));
  } catch (const std::exception& e) {
    std::cerr << "tally demo: cannot start the demo backends on 127.0.0.1:9001-9003: " << e.what()
              << " (is another demo still running?)\n";
    return 1;
  }
  std::thread backends_thread([&] { backends_ctx.run(); });

  int code = 0;
  try {
    app a(loaded.value);
    a.start();
    std::cout << "tally demo is running: a proxy on 127.0.0.1:8080 in front of three backends\n"
                 "(demo-1, demo-2, demo-3 on ports 9001-9003). Try:\n"
                 "  curl http://127.0.0.1:8080/          # repeat: the name rotates\n"
                 "  curl -i http://127.0.0.1:8080/headers # what a backend receives\n"
                 "  curl http://127.0.0.1:9901/status     # admin API: pools and backends\n"
                 "Press Ctrl-C to stop.\n"
              << std::flush;
    code = a.run();
  } catch (const std::exception& e) {
    std::cerr << "tally demo: " << e.what() << "\n";
    code = 1;
  }
  for (auto& b : backends)
    b->stop();
  work.reset();
  backends_ctx.stop();
  backends_thread.join();
  return code;
}

}  // namespace tally::proxy
