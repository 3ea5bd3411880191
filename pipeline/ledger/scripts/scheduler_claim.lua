-- KEYS: lock, due. ARGV: holder, token, now, limit, lease. Fenced (_fenced.lua).
local now = tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[2], 'XX', now + tonumber(ARGV[5]), id)
end
return ids
