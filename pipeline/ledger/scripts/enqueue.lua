-- Create jobs. ARGV[4] = n, then n groups of 8: id, type, seller, priority, payload,
-- max attempts, parent id, idempotency key. Every parent must be active, else nothing is
-- created: returns {'refused', parent, state}. Otherwise a flat list of
-- (status, id) pairs: status 'new', or 'existing' when a live idempotency key answered.
local n = tonumber(ARGV[4])
local F = 8
for i = 0, n - 1 do
  local parent = ARGV[5 + i * F + 6]
  if parent ~= '' then
    local st = redis.call('HGET', jkey(parent), 'state')
    if st ~= 'active' then
      return {'refused', parent, st or 'missing'}
    end
  end
end
local out = {}
local created = {}
local woken = {}
for i = 0, n - 1 do
  local b = 5 + i * F
  local id, jtype, seller, prio = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local parent, idem = ARGV[b + 6], ARGV[b + 7]
  local existing = nil
  if idem ~= '' then
    local ik = key('idem', idem)
    local held = redis.call('GET', ik)
    if held then
      local st = redis.call('HGET', jkey(held), 'state')
      if st and st ~= 'dead' then existing = held end
    end
    if not existing then redis.call('SET', ik, id) end
  end
  if existing then
    out[#out + 1] = 'existing'
    out[#out + 1] = existing
  else
    redis.call('HSET', jkey(id), 'id', id, 'type', jtype, 'seller', seller, 'prio', prio,
      'payload', ARGV[b + 4], 'max', ARGV[b + 5], 'parent', parent, 'idem', idem,
      'state', 'waiting', 'attempt', '0', 'created', NOW_S, 'progress', '0')
    redis.call('RPUSH', key('q', jtype, prio), id)
    created[jtype] = (created[jtype] or 0) + 1
    woken[jtype] = true
    if parent ~= '' then
      redis.call('HINCRBY', jkey(parent), 'ch_total', 1)
      redis.call('HINCRBY', jkey(parent) .. L['children_suffix'], jtype .. ':total', 1)
    end
    emit(id, jtype, seller, '', 'waiting')
    out[#out + 1] = 'new'
    out[#out + 1] = id
  end
end
for jtype, c in pairs(created) do
  redis.call('HINCRBY', key('count', jtype), 'created', c)
end
for jtype, _ in pairs(woken) do
  -- Wake blocked claimers; a few stale tokens only cost an empty claim.
  redis.call('LPUSH', key('signal', jtype), '1')
  redis.call('LTRIM', key('signal', jtype), 0, 15)
end
return out
