-- rampart-limit's Redis script: evaluates a batch of rate-limit requests in
-- one atomic call. It mirrors `policy.rs` in microseconds; see `redis.rs`
-- for the precision.
--
-- KEYS: the distinct keys of the batch.
-- ARGV[1]: the batch, packed little-endian (struct):
--   u32 policies, u32 requests;
--   per policy: u8 algorithm (1 fixed, 2 sliding, 3 gcra), f64 limit,
--     f64 window (µs), f64 burst;
--   per request: u8 op (0 check, 1 peek), f64 now (µs; -1: Redis TIME),
--     u32 checks; per check: u32 key index, u32 policy index (1-based),
--     f64 cost.
-- Answers five integers per request: allowed (1, 0, or -1 for a peek of a
-- key with no state that matters), binding index (0-based), remaining,
-- reset after and retry after (-1 for none), both in microseconds.
--
-- A key's value is packed too (struct '<dd' or '<ddd', 16 or 24 bytes):
-- fixed: window, count; sliding: window, previous, current; gcra: the
-- theoretical arrival time in whole µs, and the rest in 1/limit µs. Packed
-- numbers cost a fraction of what printing and parsing them does in
-- Redis's Lua. A value of any other length reads as fresh.

local floor = math.floor
local call = redis.call
local spack, sunpack = struct.pack, struct.unpack
local tostring = tostring

-- Idle keys linger this long past the moment their state stops mattering,
-- so that a caller's clock a little behind Redis's never loses state.
local SLACK_MS = 1000
local FORMAT = { '<dd', '<ddd', '<dd' }
local LENGTH = { 16, 24, 16 }

-- Floor of a / b for integers a >= 0, b > 0, corrected for the rounding of
-- the division (exact while a + b < 2^53).
local function div(a, b)
  local q = floor(a / b)
  local r = a - q * b
  if r < 0 then
    q = q - 1
  elseif r >= b then
    q = q + 1
  end
  return q
end

local function cdiv(a, b)
  local q = div(a, b)
  if q * b < a then
    q = q + 1
  end
  return q
end

local nkeys = #KEYS
local raw
if nkeys <= 1000 then
  raw = call('MGET', unpack(KEYS))
else
  raw = {}
  for i = 1, nkeys, 1000 do
    local got = call('MGET', unpack(KEYS, i, math.min(i + 999, nkeys)))
    for k = 1, #got do
      raw[i + k - 1] = got[k]
    end
  end
end

-- The batch's view of each key: `have[k]` is nil until read, then 0 for
-- fresh or 1 with the state in sa, sb, sc.
local have, sa, sb, sc = {}, {}, {}, {}
-- Keys to write at the end, in order, with the `now` and policy of their
-- last change.
local dirty, dirty_now, dirty_policy, ndirty = {}, {}, {}, 0

local function load(k, alg)
  local h = have[k]
  if h == nil then
    h = 0
    local v = raw[k]
    if v and #v == LENGTH[alg] then
      h = 1
      sa[k], sb[k], sc[k] = sunpack(FORMAT[alg], v)
      if alg ~= 2 then
        sc[k] = 0
      end
    end
    have[k] = h
  end
  return h
end

-- Each evaluation answers: allowed, remaining, reset, retry (-1), and the
-- new state (a, b, c).

local function fixed(h, a, b, limit, w, cost, now)
  local window = div(now, w)
  local count = 0
  if h == 1 and a == window then
    count = b
  end
  local allowed = count + cost <= limit
  if allowed then
    count = count + cost
  end
  local reset = (window + 1) * w - now
  local remaining = limit - count
  if remaining < 0 then
    remaining = 0
  end
  return allowed, remaining, reset, allowed and -1 or reset, window, count, 0
end

-- The earliest point into a window with counters (p, c) where the cost
-- fits, or nil if it does not fit in that window.
local function fits_at(p, c, cost, limit, w)
  local room = (limit - c - cost) * w
  if room < 0 then
    return nil
  end
  if p == 0 then
    return 0
  end
  local e = w - div(room, p)
  if e < 0 then
    e = 0
  end
  return e
end

local function sliding(h, a, b, c, limit, w, cost, now)
  local window = div(now, w)
  local elapsed = now - window * w
  local prev, cur = 0, 0
  if h == 1 then
    if a == window then
      prev, cur = b, c
    elseif a + 1 == window then
      prev = c
    end
  end
  -- The estimate scaled by the window is weighted + current × w; kept
  -- apart, no product is formed where the previous window weighs nothing.
  local weighted = prev * (w - elapsed)
  local room = limit - cur - cost
  local allowed = room >= 0 and weighted <= room * w
  if allowed then
    cur = cur + cost
  end
  local remaining = limit - cur - cdiv(weighted, w)
  if remaining < 0 then
    remaining = 0
  end
  local reset = (window + 1) * w - now
  local retry = -1
  if not allowed then
    local e = fits_at(prev, cur, cost, limit, w)
    if e and e < w then
      retry = e - elapsed
      if retry < 1 then
        retry = 1
      end
    else
      local f = fits_at(cur, 0, cost, limit, w)
      if not f or f > w then
        f = w
      end
      retry = (w - elapsed) + f
    end
  end
  return allowed, remaining, reset, retry, window, prev, cur
end

local function gcra(h, a, b, limit, w, burst, cost, now)
  -- d: how far the arrival time is ahead of now, in 1/limit microseconds.
  local d = 0
  if h == 1 then
    d = (a - now) * limit + b
    if d < 0 then
      d = 0
    end
  end
  local tolerance = burst * w
  local next_d = d + cost * w
  local allowed = next_d <= tolerance
  local kept = allowed and next_d or d
  local remaining = burst - cdiv(kept, w)
  if remaining < 0 then
    remaining = 0
  end
  local retry = -1
  if not allowed then
    retry = cdiv(next_d - tolerance, limit)
  end
  local q = div(kept, limit)
  return allowed, remaining, cdiv(kept, limit), retry, now + q, kept - q * limit, 0
end

-- When a state stops mattering (`Policy::idle_at`), in microseconds.
local function idle_at(alg, a, b, w)
  if alg == 1 then
    return (a + 1) * w
  elseif alg == 2 then
    return (a + 2) * w
  elseif b > 0 then
    return a + 1
  end
  return a
end

local blob = ARGV[1]
local npolicies, nrequests, at = sunpack('<I4I4', blob)
local palg, plimit, pw, pburst = {}, {}, {}, {}
for i = 1, npolicies do
  palg[i], plimit[i], pw[i], pburst[i], at = sunpack('<Bddd', blob, at)
end

local redis_now
local function time_now()
  if not redis_now then
    local t = call('TIME')
    redis_now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  return redis_now
end

local function evaluate(alg, h, a, b, c, p, cost, now)
  if alg == 1 then
    return fixed(h, a, b, plimit[p], pw[p], cost, now)
  elseif alg == 2 then
    return sliding(h, a, b, c, plimit[p], pw[p], cost, now)
  end
  return gcra(h, a, b, plimit[p], pw[p], pburst[p], cost, now)
end

local out, o = {}, 0
-- Per request: the tentative new states, by check.
local tk, tp, tcost, ta, tb, tc = {}, {}, {}, {}, {}, {}
for _ = 1, nrequests do
  local op, now, n
  op, now, n, at = sunpack('<BdI4', blob, at)
  if now < 0 then
    now = time_now()
  end
  if op == 1 then
    local k, p, _
    k, p, _, at = sunpack('<I4I4d', blob, at)
    local alg = palg[p]
    if load(k, alg) == 1 and idle_at(alg, sa[k], sb[k], pw[p]) > now then
      local allowed, remaining, reset, retry = evaluate(alg, 1, sa[k], sb[k], sc[k], p, 0, now)
      out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = allowed and 1 or 0, 0, remaining, reset, retry
    else
      out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = -1, 0, 0, 0, -1
    end
  else
    local bi, ballowed, bremaining, breset, bretry
    for j = 1, n do
      local k, p, cost
      k, p, cost, at = sunpack('<I4I4d', blob, at)
      local alg = palg[p]
      local h, a, b, c
      -- A key checked twice in one request sees its earlier check.
      local earlier
      for i = j - 1, 1, -1 do
        if tk[i] == k then
          earlier = i
          break
        end
      end
      if earlier then
        h, a, b, c = 1, ta[earlier], tb[earlier], tc[earlier]
      else
        h = load(k, alg)
        a, b, c = sa[k], sb[k], sc[k]
      end
      local allowed, remaining, reset, retry, na, nb, nc = evaluate(alg, h, a, b, c, p, cost, now)
      tk[j], tp[j], tcost[j], ta[j], tb[j], tc[j] = k, p, cost, na, nb, nc
      if not bi or (ballowed and (not allowed or remaining < bremaining)) then
        bi, ballowed, bremaining, breset, bretry = j, allowed, remaining, reset, retry
      end
    end
    if ballowed then
      for j = 1, n do
        local k = tk[j]
        local counted = tcost[j] > 0
        -- As in memory: a fresh key checked at no cost gets no state.
        if counted or have[k] == 1 then
          have[k], sa[k], sb[k], sc[k] = 1, ta[j], tb[j], tc[j]
        end
        if counted then
          if not dirty_now[k] then
            ndirty = ndirty + 1
            dirty[ndirty] = k
          end
          dirty_now[k], dirty_policy[k] = now, tp[j]
        end
      end
    end
    out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = ballowed and 1 or 0, bi - 1, bremaining, breset, bretry
  end
  o = o + 5
end

-- Printing a number is dear in Redis's Lua, and many keys share a TTL.
local ttls = {}
for i = 1, ndirty do
  local k = dirty[i]
  local p = dirty_policy[k]
  local alg = palg[p]
  local value
  if alg == 2 then
    value = spack('<ddd', sa[k], sb[k], sc[k])
  else
    value = spack('<dd', sa[k], sb[k])
  end
  local ttl = cdiv(idle_at(alg, sa[k], sb[k], pw[p]) - dirty_now[k], 1000)
  if ttl < 1 then
    ttl = 1
  end
  local px = ttls[ttl]
  if not px then
    px = tostring(ttl + SLACK_MS)
    ttls[ttl] = px
  end
  call('PSETEX', KEYS[k], px, value)
end

return out
