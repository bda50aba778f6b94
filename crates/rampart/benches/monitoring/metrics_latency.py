#!/usr/bin/env python3
"""GET /metrics latency with N queues holding jobs.

Starts nothing: expects a server at URL with KEY (admin). Fills N queues
(10 jobs each, 5 of them leased and completed, so every queue has gauges,
totals and a run-time histogram), waits for a sample, then times REQUESTS
GETs of /metrics over one keep-alive connection and prints p50/p99/max.
"""
import http.client, json, sys, time

url_host, url_port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
queues = int(sys.argv[4]) if len(sys.argv) > 4 else 100
requests = int(sys.argv[5]) if len(sys.argv) > 5 else 500
conn = http.client.HTTPConnection(url_host, url_port)
H = {"Authorization": f"Bearer {key}", "content-type": "application/json"}

def call(method, path, body=None):
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=H)
    r = conn.getresponse()
    data = r.read()
    return r.status, data

for i in range(queues):
    q = f"queue-{i:03}"
    s, _ = call("POST", f"/v1/queues/{q}/jobs/batch", {"jobs": [{"payload": {"n": n}} for n in range(10)]})
    assert s == 201, s
    s, data = call("POST", f"/v1/queues/{q}/lease", {"max": 5, "worker": "w"})
    jobs = json.loads(data)["jobs"]
    s, _ = call("POST", "/v1/acks", {"complete": [{"id": j["id"], "lease_token": j["lease_token"]} for j in jobs]})
    assert s == 200, s
time.sleep(2.5)  # one sample at interval = 1s
s, data = call("GET", "/metrics")
assert s == 200, (s, data[:200])
lines = data.decode().count("\n")
times = []
for _ in range(requests):
    t = time.perf_counter()
    s, data = call("GET", "/metrics")
    times.append((time.perf_counter() - t) * 1000)
    assert s == 200
times.sort()
pct = lambda p: times[min(len(times) - 1, int(p * len(times)))]
print(f"queues={queues} lines={lines} bytes={len(data)} requests={requests} "
      f"p50={pct(0.50):.2f}ms p99={pct(0.99):.2f}ms max={times[-1]:.2f}ms")
