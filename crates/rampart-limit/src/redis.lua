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
-- Answers one string: five f64 per request, little-endian: allowed (1, 0,
-- or -1 for a peek of a key with no state that matters), binding index
-- (0-based), remaining, reset after and retry after (-1 for none), both in
-- microseconds.
--
-- A key's value is packed too (struct '<ddd' or '<dddd', 24 or 32 bytes):
-- fixed: window, count; sliding: window, previous, current; gcra: the
-- theoretical arrival time in whole µs, and the rest in 1/limit µs; then
-- when the key expires (below). Packed numbers cost a fraction of what
-- printing and parsing them does in Redis's Lua. A value of any other
-- length reads as fresh.

local floor = math.floor
local call = redis.call
local spack, sunpack = struct.pack, struct.unpack
local tostring = tostring

-- Idle keys linger this long past the moment their state stops mattering,
-- so that a caller's clock a little behind Redis's never loses state.
local SLACK_US = 1000000

-- The script runs in Redis's single thread, so every instruction counts:
-- the common path (one check per request) is written out, and helpers are
-- few.

-- Floor of a / b for integers a >= 0, b > 0: the division can round up to
-- the next integer, never down past one (exact while a + b < 2^53).
local function div(a, b)
  local q = floor(a / b)
  if q * b > a then
    q = q - 1
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

local blob = ARGV[1]
local npolicies, nrequests, at = sunpack('<I4I4', blob)
local palg, plimit, pw, pburst = {}, {}, {}, {}
for i = 1, npolicies do
  palg[i], plimit[i], pw[i], pburst[i], at = sunpack('<Bddd', blob, at)
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

-- A key's state: h = 1 and its numbers, or h = 0 when fresh. A key this
-- batch wrote reads its new value (`store` puts it in `raw`).
local function load(k, alg)
  local v = raw[k]
  if v then
    if alg == 2 then
      if #v == 32 then
        local a, b, c = sunpack('<ddd', v)
        return 1, a, b, c
      end
    elseif #v == 24 then
      local a, b = sunpack('<dd', v)
      return 1, a, b, 0
    end
  end
  return 0
end

-- The earliest point into a sliding window with counters (p, c) where the
-- cost fits, or nil if it does not fit in that window.
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

-- Decides one check against a state (h = 0: fresh). Answers allowed,
-- remaining, reset, retry (-1 for none) and the new state a, b, c.
local function decide(alg, h, a, b, c, limit, w, burst, cost, now)
  if alg == 3 then
    -- GCRA. d: how far the arrival time is ahead of now, in 1/limit µs.
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
    local q = div(kept, limit)
    local r = kept - q * limit
    local remaining = burst - cdiv(kept, w)
    if remaining < 0 then
      remaining = 0
    end
    local retry = -1
    if not allowed then
      retry = cdiv(next_d - tolerance, limit)
    end
    return allowed, remaining, r > 0 and q + 1 or q, retry, now + q, r, 0
  end

  local window = floor(now / w)
  if window * w > now then
    window = window - 1
  end
  local reset = (window + 1) * w - now
  if alg == 1 then
    local count = 0
    if h == 1 and a == window then
      count = b
    end
    local allowed = count + cost <= limit
    if allowed then
      count = count + cost
    end
    local remaining = limit - count
    if remaining < 0 then
      remaining = 0
    end
    return allowed, remaining, reset, allowed and -1 or reset, window, count, 0
  end

  -- Sliding window: the estimate scaled by the window is weighted +
  -- current × w; kept apart, no product is formed where the previous
  -- window weighs nothing.
  local elapsed = now - window * w
  local prev, cur = 0, 0
  if h == 1 then
    if a == window then
      prev, cur = b, c
    elseif a + 1 == window then
      prev = c
    end
  end
  local weighted = 0
  if prev > 0 then
    weighted = prev * (w - elapsed)
  end
  local room = limit - cur - cost
  local allowed = room >= 0 and weighted <= room * w
  if allowed then
    cur = cur + cost
  end
  local remaining = limit - cur
  if weighted > 0 then
    remaining = remaining - cdiv(weighted, w)
  end
  if remaining < 0 then
    remaining = 0
  end
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

-- Printing a number is dear in Redis's Lua, and many keys share a TTL.
local ttls = {}

-- Writes a key's new state. Each value ends with the moment (µs, the
-- writers' clock) its key expires: a key whose expiry already covers its
-- new idle time is rewritten in place (SETRANGE keeps the TTL, at half the
-- cost of PSETEX); otherwise PSETEX sets a new one, for GCRA a quarter of
-- the bucket's drain time beyond need, so that a busy key is not
-- re-expired at every check.
local function store(k, alg, p, a, b, c, now)
  local need = idle_at(alg, a, b, pw[p]) + SLACK_US
  local v = raw[k]
  local expires = -1
  if v and #v == (alg == 2 and 32 or 24) then
    expires = sunpack('<d', v, #v - 7)
  end
  local px
  if expires < need then
    if alg == 3 then
      need = need + floor(pburst[p] * pw[p] / plimit[p] / 4)
    end
    local ttl = cdiv(need - now, 1000)
    if ttl < 1 then
      ttl = 1
    end
    px = ttls[ttl]
    if not px then
      px = tostring(ttl)
      ttls[ttl] = px
    end
    expires = now + ttl * 1000
  end
  if alg == 2 then
    v = spack('<dddd', a, b, c, expires)
  else
    v = spack('<ddd', a, b, expires)
  end
  if px then
    call('PSETEX', KEYS[k], px, v)
  else
    call('SETRANGE', KEYS[k], '0', v)
  end
  raw[k] = v
end

local redis_now
local function time_now()
  if not redis_now then
    local t = call('TIME')
    redis_now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  return redis_now
end

-- Answers, five a request; written as the requests are decided. A denied
-- check writes nothing; a check at no cost writes nothing either, since
-- its state decides like the one stored (and a fresh key gets none, as in
-- memory).
local out, o = {}, 0
-- Per request of several checks: the tentative new states, by check.
local tk, tp, tcost, ta, tb, tc = {}, {}, {}, {}, {}, {}

for _ = 1, nrequests do
  local op, now, n, k, p, cost
  op, now, n, k, p, cost, at = sunpack('<BdI4I4I4d', blob, at)
  if now < 0 then
    now = time_now()
  end
  local alg = palg[p]
  if op == 1 then
    local h, a, b, c = load(k, alg)
    if h == 1 and idle_at(alg, a, b, pw[p]) > now then
      local allowed, remaining, reset, retry = decide(alg, 1, a, b, c, plimit[p], pw[p], pburst[p], 0, now)
      out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = allowed and 1 or 0, 0, remaining, reset, retry
    else
      out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = -1, 0, 0, 0, -1
    end
  elseif n == 1 then
    local h, a, b, c = load(k, alg)
    local allowed, remaining, reset, retry, na, nb, nc = decide(alg, h, a, b, c, plimit[p], pw[p], pburst[p], cost, now)
    if allowed and cost > 0 then
      store(k, alg, p, na, nb, nc, now)
    end
    out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = allowed and 1 or 0, 0, remaining, reset, retry
  else
    local bi, ballowed, bremaining, breset, bretry
    for j = 1, n do
      if j > 1 then
        k, p, cost, at = sunpack('<I4I4d', blob, at)
        alg = palg[p]
      end
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
        h, a, b, c = load(k, alg)
      end
      local allowed, remaining, reset, retry, na, nb, nc =
        decide(alg, h, a, b, c, plimit[p], pw[p], pburst[p], cost, now)
      tk[j], tp[j], tcost[j], ta[j], tb[j], tc[j] = k, p, cost, na, nb, nc
      if not bi or (ballowed and (not allowed or remaining < bremaining)) then
        bi, ballowed, bremaining, breset, bretry = j, allowed, remaining, reset, retry
      end
    end
    if ballowed then
      for j = 1, n do
        if tcost[j] > 0 then
          p = tp[j]
          store(tk[j], palg[p], p, ta[j], tb[j], tc[j], now)
        end
      end
    end
    out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = ballowed and 1 or 0, bi - 1, bremaining, breset, bretry
  end
  o = o + 5
end

-- One string of doubles: far cheaper for Redis to send (and for the
-- client to read) than five integer replies a request.
local fmt = '<' .. string.rep('d', o)
if o <= 4000 then
  return spack(fmt, unpack(out))
end
local parts = {}
for i = 1, o, 4000 do
  local j = math.min(i + 3999, o)
  parts[#parts + 1] = spack('<' .. string.rep('d', j - i + 1), unpack(out, i, j))
end
return table.concat(parts)
