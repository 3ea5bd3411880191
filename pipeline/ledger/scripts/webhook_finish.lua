-- KEYS: due, dead, stats; ARGV: delivery key prefix, id, claim, outcome
-- (delivered|retry|dead), due, error, attempt, dead TTL, dead kept.
local id = ARGV[2]
local key = ARGV[1] .. id
if redis.call('HGET', key, 'claim') ~= ARGV[3] then return 0 end
local outcome = ARGV[4]
if outcome == 'delivered' then
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], id)
elseif outcome == 'retry' then
  redis.call('HSET', key, 'attempt', ARGV[7], 'error', ARGV[6], 'state', 'retrying')
  redis.call('ZADD', KEYS[1], tonumber(ARGV[5]), id)
else
  redis.call('HSET', key, 'attempt', ARGV[7], 'error', ARGV[6], 'state', 'dead')
  redis.call('ZREM', KEYS[1], id)
  redis.call('EXPIRE', key, tonumber(ARGV[8]))
  redis.call('LPUSH', KEYS[2], id)
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[9]) - 1)
end
redis.call('HINCRBY', KEYS[3], outcome, 1)
return 1
