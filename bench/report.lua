-- wrk reporting hook for bench/run.sh: one machine-readable line after the run.
-- Latencies are in microseconds; summary.duration is in microseconds too.
-- errors.status counts responses with a status >= 400 (wrk's "Non-2xx or 3xx responses").
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "TALLYBENCH requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99)), math.floor(latency.max),
    e.connect, e.read, e.write, e.status, e.timeout))
end
