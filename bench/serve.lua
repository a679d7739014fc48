-- wrk script of bench/serve.py.
-- args: mode (get | order), api key, items file, run tag, ordered_at, redeem every N orders
-- get:   each line of the items file is a path; requests pick lines at random.
-- post:  each line is "PATH JSON-BODY"; requests pick lines at random (e.g. coupon validation).
-- order: each line is "customer_id sku price"; every request is a new one-line EC order with its own
--        external_ref and Idempotency-Key, and every Nth redeems 100 points.
local threads_started = 0

function setup(thread)
   threads_started = threads_started + 1
   thread:set("tid", threads_started)
end

local items = {}
local mode, key, tag, ordered_at, redeem_every
local counter = 0

function init(args)
   mode, key, tag, ordered_at, redeem_every = args[1], args[2], args[4], args[5], tonumber(args[6])
   for line in io.lines(args[3]) do
      if #line > 0 then items[#items + 1] = line end
   end
   math.randomseed(os.time() * 1000 + (tid or 0))
end

function request()
   counter = counter + 1
   local item = items[math.random(#items)]
   if mode == "get" then
      return wrk.format("GET", item, { ["Authorization"] = "Api-Key " .. key, ["Accept"] = "application/json" })
   end
   if mode == "post" then
      local path, body = item:match("^(%S+) (.*)$")
      return wrk.format("POST", path, {
         ["Authorization"] = "Api-Key " .. key, ["Content-Type"] = "application/json", ["Accept"] = "application/json",
      }, body)
   end
   local customer, sku, price = item:match("(%S+) (%S+) (%S+)")
   local ref = tag .. "-" .. tid .. "-" .. counter
   local redeem = 0
   if counter % redeem_every == 0 then redeem = 100 end
   local body = string.format(
      '{"source":"bench-ec","external_ref":"%s","channel":"ec","customer":"%s","ordered_at":"%s",'
      .. '"lines":[{"sku":"%s","quantity":1,"unit_price":%s}],"redeem_points":%d}',
      ref, customer, ordered_at, sku, price, redeem)
   return wrk.format("POST", "/api/v1/orders/", {
      ["Authorization"] = "Api-Key " .. key,
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json",
      ["Idempotency-Key"] = ref,
   }, body)
end

function done(summary, latency, requests)
   io.write(string.format(
      'BENCHJSON {"requests":%d,"duration_us":%d,"errors_status":%d,"errors_connect":%d,"errors_read":%d,'
      .. '"errors_write":%d,"errors_timeout":%d,"p50_us":%d,"p99_us":%d}\n',
      summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
      summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
