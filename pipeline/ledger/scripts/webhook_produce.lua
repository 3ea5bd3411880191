-- KEYS: cursor, due, stats; ARGV: delivery key prefix, once-mark prefix, expected cursor,
-- new cursor, now, then six values per delivery.
local dkey, okey = ARGV[1], ARGV[2]
local cur = redis.call('GET', KEYS[1]) or ''
if cur ~= ARGV[3] then return -1 end
local now, n = ARGV[5], 0
for i = 6, #ARGV, 6 do
  local id, seller, ev, body = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]
  local once, ttl = ARGV[i+4], ARGV[i+5]
  local fresh = true
  if once ~= '' then
    fresh = redis.call('SET', okey .. once, '1', 'NX', 'PX', ttl)
  end
  if fresh and redis.call('EXISTS', dkey .. id) == 0 then
    redis.call('HSET', dkey .. id, 'id', id, 'seller', seller, 'event', ev,
      'body', body, 'attempt', 0, 'claim', 0, 'created', now, 'state', 'pending')
    redis.call('ZADD', KEYS[2], now, id)
    n = n + 1
  end
end
redis.call('SET', KEYS[1], ARGV[4])
redis.call('HINCRBY', KEYS[3], 'produced', n)
return n
