-- KEYS[1] generation, KEYS[2] changes, KEYS[3] the log's tombstones, KEYS[4] the log's
-- floor, KEYS[5] the seller's hashes, KEYS[6] the seller's counts, then each product's
-- hash; ARGV[1] how many tombstones to keep, then the product ids (in the same order).
local ids = {}
for i = 2, #ARGV do
  local pid, pk = ARGV[i], KEYS[5 + i]
  if redis.call('HEXISTS', KEYS[5], pid) == 1 then
    local old = redis.call('HMGET', pk, 'status', 'live')
    move(KEYS[6], bucket(old[1], old[2]), nil)
  end
  redis.call('DEL', pk)
  redis.call('HDEL', KEYS[5], pid)
  ids[#ids + 1] = pid
end
local g = bump(KEYS[1], KEYS[2], ids)
for _, pid in ipairs(ids) do redis.call('ZADD', KEYS[3], g, pid) end
-- Past the limit the oldest tombstones leave the log, and the floor moves up to them: a
-- reader whose cursor is behind it would miss those removals, so it reloads instead.
local extra = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[1])
if extra > 0 then
  local old = redis.call('ZRANGE', KEYS[3], 0, extra - 1, 'WITHSCORES')
  for j = 1, #old, 2 do
    redis.call('ZREM', KEYS[2], old[j])
    redis.call('ZREM', KEYS[3], old[j])
  end
  if tonumber(old[#old]) > tonumber(redis.call('GET', KEYS[4]) or '0') then
    redis.call('SET', KEYS[4], old[#old])
  end
end
return g
