// deploy/staging/load.js - the short load test of the CD workflow (k6):
// 20 virtual users for 60 s against an environment's public URL
// (BASE_URL), reading the event list (API) and the web tier's health. It
// fails when more than 1% of requests fail or the 95th percentile passes
// 800 ms: the thresholds below.
//
//   k6 run -e BASE_URL=https://staging.example.org deploy/staging/load.js
import http from "k6/http";
import { check, sleep } from "k6";

export const options = {
  vus: 20,
  duration: "60s",
  thresholds: {
    http_req_failed: ["rate<0.01"],
    http_req_duration: ["p(95)<800"],
  },
};

const base = (__ENV.BASE_URL || "").replace(/\/+$/, "");

export default function () {
  const events = http.get(`${base}/v1/events`, { tags: { route: "/v1/events" } });
  check(events, { "events 200": (r) => r.status === 200 });
  const health = http.get(`${base}/api/health`, { tags: { route: "/api/health" } });
  check(health, { "health 200": (r) => r.status === 200 });
  sleep(0.5);
}
