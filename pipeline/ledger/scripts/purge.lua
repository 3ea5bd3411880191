-- Delete dead letters for good. ARGV[4] n, then n ids; ids not dead are skipped.
-- Returns how many were deleted.
local n = tonumber(ARGV[4])
local purged = 0
for i = 1, n do
  local id = ARGV[4 + i]
  local j = redis.call('HMGET', jkey(id), 'state', 'type', 'seller')
  if j[1] == 'dead' then
    redis.call('ZREM', key('dead', j[2]), id)
    redis.call('ZREM', L['dead_all'], id)
    redis.call('ZREM', key('dead-seller', j[3]), id)
    delete_job(id)
    redis.call('HINCRBY', key('count', j[2]), 'purged', 1)
    emit(id, j[2], j[3], 'dead', '', 'purged')
    purged = purged + 1
  end
end
return purged
