-- KEYS: due; ARGV: delivery key prefix, now, limit, lease.
local dkey, now, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local key = dkey .. id
  if redis.call('EXISTS', key) == 1 then
    redis.call('ZADD', KEYS[1], now + lease, id)
    local claim = redis.call('HINCRBY', key, 'claim', 1)
    local h = redis.call('HMGET', key, 'seller', 'event', 'body', 'attempt')
    out[#out + 1] = {id, h[1], h[2], h[3], h[4], claim}
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
