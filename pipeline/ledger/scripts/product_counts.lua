-- KEYS[1] the seller's hashes, KEYS[2] the seller's counts; ARGV[1] the product key
-- prefix. Counts the seller's products once if the counts do not exist yet, then
-- returns them.
if redis.call('EXISTS', KEYS[2]) == 0 then
  local c = {live = 0, rejected = 0, flagged = 0, failed = 0, in_progress = 0}
  for _, pid in ipairs(redis.call('HKEYS', KEYS[1])) do
    local s = redis.call('HMGET', ARGV[1] .. pid, 'status', 'live')
    local b = bucket(s[1], s[2])
    c[b] = c[b] + 1
  end
  redis.call('HSET', KEYS[2], 'live', c.live, 'rejected', c.rejected, 'flagged', c.flagged,
             'failed', c.failed, 'in_progress', c.in_progress)
end
return redis.call('HGETALL', KEYS[2])
