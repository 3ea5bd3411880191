-- KEYS[1] generation, KEYS[2] changes, KEYS[3] the seller's hashes, KEYS[4] the seller's
-- counts, then each product's hash; ARGV the product ids (in the same order).
for i, pid in ipairs(ARGV) do
  local pk = KEYS[4 + i]
  if redis.call('HEXISTS', KEYS[3], pid) == 1 then
    local old = redis.call('HMGET', pk, 'status', 'live')
    move(KEYS[4], bucket(old[1], old[2]), nil)
  end
  redis.call('DEL', pk)
  redis.call('HDEL', KEYS[3], pid)
end
return bump(KEYS[1], KEYS[2], ARGV)
