-- wrk script for bench/directory.sh: each request is the next query of a
-- list (names typed in part or misspelled, or filters), signed in with
-- the token in the TOKEN environment variable; prints the percentiles.
local queries = {}
local mode = os.getenv("MODE") or "names"
if mode == "names" then
  for _, q in ipairs({"mamedova", "aysel", "khan", "qure", "H%C3%BCseynov", "bilal", "alieva", "sana mal",
                      "cafarov", "nerm", "baloch", "orxan", "Siddiq", "fidan", "zaidi", "kamran raz"}) do
    table.insert(queries, "/api/v1/members?q=" .. q:gsub(" ", "+"))
  end
else
  for _, c in ipairs({"Pakistan", "Azerbaijan"}) do
    for y = 2000, 2025, 3 do
      table.insert(queries, "/api/v1/members?country=" .. c .. "&graduation_year=" .. y)
    end
  end
  for _, u in ipairs({"ADA", "Lahore", "Baku State", "NUST"}) do
    table.insert(queries, "/api/v1/members?university=" .. u:gsub(" ", "+"))
  end
end
local i = 0
local token = os.getenv("TOKEN")

request = function()
  i = i % #queries + 1
  return wrk.format("GET", queries[i], {["Authorization"] = "Bearer " .. token})
end

done = function(summary, latency, requests)
  io.write(string.format("%s: %d requests, %d errors, %.0f req/s; latency p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n",
    mode, summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
