-- Send dead letters back to their queue with fresh attempts. ARGV[4] n, then n ids.
-- Ids that are not dead are skipped. The error history is kept. Returns the ids replayed.
local n = tonumber(ARGV[4])
local out = {}
for i = 1, n do
  local id = ARGV[4 + i]
  local jk = jkey(id)
  local j = redis.call('HMGET', jk, 'state', 'type', 'seller', 'prio', 'parent', 'idem')
  if j[1] == 'dead' then
    local jtype, seller = j[2], j[3]
    redis.call('ZREM', key('dead', jtype), id)
    redis.call('ZREM', L['dead_all'], id)
    redis.call('ZREM', key('dead-seller', seller), id)
    redis.call('HSET', jk, 'state', 'waiting', 'attempt', '0', 'finished', '', 'progress', '0',
      'pmsg', '')
    redis.call('HINCRBY', jk, 'replays', 1)
    redis.call('RPUSH', key('q', jtype, j[4]), id)
    -- A parent still waiting counts this child as pending again.
    local parent = j[5]
    if parent and parent ~= '' and redis.call('HGET', jkey(parent), 'state') == 'active' then
      redis.call('HINCRBY', jkey(parent), 'ch_dead', -1)
      redis.call('HINCRBY', jkey(parent) .. L['children_suffix'], jtype .. ':dead', -1)
    end
    -- Take the idempotency key back unless another live job holds it now.
    local idem = j[6]
    if idem and idem ~= '' then
      local ik = key('idem', idem)
      local held = redis.call('GET', ik)
      local st = held and redis.call('HGET', jkey(held), 'state')
      if not held or not st or st == 'dead' then redis.call('SET', ik, id) end
    end
    emit(id, jtype, seller, 'dead', 'waiting', 'replay')
    redis.call('LPUSH', key('signal', jtype), '1')
    redis.call('LTRIM', key('signal', jtype), 0, 15)
    out[#out + 1] = id
  end
end
return out
