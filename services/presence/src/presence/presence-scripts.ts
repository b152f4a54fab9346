import { LEVEL_AFTER_MS } from './presence-settings';

/*
 * Redis Lua scripts: each runs atomically, so any number of replicas can apply adverts and sweep at
 * once. The "published" key of a band holds the snapshot last evaluated by anyone; a change is
 * reported by exactly the one script run that replaced a snapshot whose level, authenticated flag or
 * strongest terminal differed (compare-and-set inside the script). Both keys of a band share the hash
 * tag {<bandId>} so the scripts also work on Redis Cluster.
 *
 * Band state hash fields:
 *   last        ms of the last advert (the presence clock: the replica's, not the endpoint's)
 *   auth        '1' when the band's latest word is "authenticated"
 *   down        largest seenAt (endpoint clock, capped at now) of an advert that was not "authenticated"
 *   r:<term>    EWMA-smoothed RSSI heard by terminal <term>
 *   s:<term>    ms when <term> last heard the band
 */
const EVALUATE = `
local function level_of(age)
  if age >= ${LEVEL_AFTER_MS.no} then return 'no' end
  if age >= ${LEVEL_AFTER_MS.unlikely} then return 'unlikely' end
  if age >= ${LEVEL_AFTER_MS.likely} then return 'likely' end
  return 'yes'
end

local function load(stateKey)
  local raw = redis.call('HGETALL', stateKey)
  local h = {}
  for i = 1, #raw, 2 do h[raw[i]] = raw[i + 1] end
  return h
end

-- Evaluates band state h as of now. Returns {changed, previous snapshot JSON or '', snapshot JSON or ''};
-- an empty snapshot means the band is unknown. ttl: PX of the stored snapshot (-1 = the state's PTTL).
local function evaluate(h, stateKey, pubKey, now, windowMs, marginDb, store, ttl)
  local last = tonumber(h['last'])
  if not last then return {0, '', ''} end
  local age = now - last
  if age < 0 then age = 0 end
  local level = level_of(age)
  -- After 60 s of silence nobody can vouch that the band is still on a wrist.
  local auth = (h['auth'] == '1') and level ~= 'no'
  local terms = {}
  for k, v in pairs(h) do
    if string.sub(k, 1, 2) == 's:' and tonumber(v) >= last - windowMs then
      local t = string.sub(k, 3)
      terms[#terms + 1] = {t, tonumber(h['r:' .. t]) or -127}
    end
  end
  if #terms == 0 then return {0, '', ''} end
  table.sort(terms, function(a, b)
    if a[2] ~= b[2] then return a[2] > b[2] end
    return a[1] < b[1]
  end)
  local prevJson = redis.call('GET', pubKey)
  local prev = nil
  if prevJson then prev = cjson.decode(prevJson) end
  -- Hysteresis: the previous strongest terminal stays first unless beaten by more than marginDb.
  if prev and prev.strongest ~= terms[1][1] then
    for i = 2, #terms do
      if terms[i][1] == prev.strongest and terms[i][2] >= terms[1][2] - marginDb then
        table.insert(terms, 1, table.remove(terms, i))
        break
      end
    end
  end
  local snap = {level = level, auth = auth, strongest = terms[1][1], terminals = terms, last = last}
  local changed = 0
  if (not prev) or prev.level ~= level or prev.auth ~= auth or prev.strongest ~= snap.strongest then changed = 1 end
  local json = cjson.encode(snap)
  if store == 1 then
    if ttl < 0 then ttl = redis.call('PTTL', stateKey) end
    if ttl > 0 then redis.call('SET', pubKey, json, 'PX', ttl) end
  end
  return {changed, prevJson or '', json}
end
`;

/**
 * Applies one terminal's adverts for one band, then evaluates and stores the snapshot. The hash is
 * read once and written once: this script runs for every band in every batch, so its cost is the
 * presence service's throughput.
 * KEYS: state, published. ARGV: now, ttlMs, alpha, windowMs, marginDb, n, then n x (terminal, rssi, state, seenAt).
 */
export const OBSERVE_SCRIPT = `${EVALUATE}
local key = KEYS[1]
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local alpha = tonumber(ARGV[3])
local windowMs = tonumber(ARGV[4])
local marginDb = tonumber(ARGV[5])
local n = tonumber(ARGV[6])
local h = load(key)
local dirty = {}
local function put(f, v)
  h[f] = v
  dirty[f] = true
end
for i = 0, n - 1 do
  local base = 7 + i * 4
  local term = ARGV[base]
  local rssi = tonumber(ARGV[base + 1])
  local state = ARGV[base + 2]
  local seen = tonumber(ARGV[base + 3])
  if seen > now then seen = now end
  local prevSeen = tonumber(h['s:' .. term])
  local prevRssi = tonumber(h['r:' .. term])
  local smoothed = rssi
  if prevSeen and prevRssi and now - prevSeen <= windowMs then
    smoothed = alpha * rssi + (1 - alpha) * prevRssi
  end
  put('r:' .. term, tostring(smoothed))
  put('s:' .. term, tostring(now))
  -- A replica whose clock lags another's must not move the band's last advert backwards.
  if now > (tonumber(h['last']) or 0) then put('last', tostring(now)) end
  local down = tonumber(h['down']) or -1
  if state == 'authenticated' then
    -- Only an advert newer than the last "not authenticated" one can authenticate: a late,
    -- reordered advert from before a removal must not bring authentication back.
    if seen > down then put('auth', '1') end
  else
    put('auth', '0')
    if seen > down then put('down', tostring(seen)) end
  end
end
-- Forget terminals that stopped hearing the band.
local gone = {}
for f, v in pairs(h) do
  if string.sub(f, 1, 2) == 's:' and tonumber(v) < now - windowMs then
    gone[#gone + 1] = f
    gone[#gone + 1] = 'r:' .. string.sub(f, 3)
  end
end
for _, f in ipairs(gone) do h[f] = nil end
if #gone > 0 then redis.call('HDEL', key, unpack(gone)) end
local args = {}
for f, _ in pairs(dirty) do
  args[#args + 1] = f
  args[#args + 1] = h[f]
end
redis.call('HSET', key, unpack(args))
redis.call('PEXPIRE', key, ttl)
return evaluate(h, key, KEYS[2], now, windowMs, marginDb, 1, ttl)
`;

/** KEYS: state, published. ARGV: now, windowMs, marginDb, store (1 = compare-and-set the snapshot). */
export const EVALUATE_SCRIPT = `${EVALUATE}
return evaluate(load(KEYS[1]), KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), -1)
`;
