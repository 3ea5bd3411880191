-- KEYS: lock, counter. ARGV: holder, now, ttl. Returns the token, or false.
local now, ttl = tonumber(ARGV[2]), tonumber(ARGV[3])
local h, t, d = parse(redis.call('GET', KEYS[1]))
local token
if h == ARGV[1] then
  token = t
elseif h and d > now then
  return false
else
  token = tostring(redis.call('INCR', KEYS[2]))
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. token .. '|' .. tostring(now + ttl),
  'PX', math.max(1000, math.floor(ttl * 10000)))
return token
