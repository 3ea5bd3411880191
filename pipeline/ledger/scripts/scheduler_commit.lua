-- KEYS: lock, due. ARGV: holder, token, now, profile key prefix, then (seller, due) pairs.
-- Fenced (_fenced.lua).
local n = 0
for i = 5, #ARGV, 2 do
  local id, due = ARGV[i], ARGV[i + 1]
  if redis.call('ZSCORE', KEYS[2], id) then
    redis.call('ZADD', KEYS[2], due, id)
    redis.call('HSET', ARGV[4] .. id, 'next_sync_due', due)
    n = n + 1
  end
end
return n
