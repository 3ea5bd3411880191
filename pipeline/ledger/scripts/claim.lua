-- Claim up to ARGV[6] jobs of type ARGV[4] for consumer ARGV[5], each with a lease of
-- ARGV[7] seconds. Due retries and expired leases are swept first. Priorities are drained
-- in order 0, 1, 2. Returns a flat list of 8-tuples:
-- id, attempt, token, payload, seller, parent, max attempts, priority.
local jtype, consumer = ARGV[4], ARGV[5]
local want, lease = tonumber(ARGV[6]), tonumber(ARGV[7])
sweep(jtype, math.max(want, 100))
local ids = {}
for p = 0, 2 do
  local need = want - #ids
  if need <= 0 then break end
  local got = redis.call('LPOP', key('q', jtype, p), need)
  if got then
    for _, id in ipairs(got) do ids[#ids + 1] = id end
  end
end
local out = {}
if #ids > 0 then
  local last = redis.call('INCRBY', L['fence'], #ids)
  local deadline = NOW + lease
  local active = key('active', jtype)
  for i, id in ipairs(ids) do
    local jk = jkey(id)
    local token = tostring(last - #ids + i)
    local attempt = redis.call('HINCRBY', jk, 'attempt', 1)
    redis.call('HSET', jk, 'state', 'active', 'token', token, 'consumer', consumer,
      'started', NOW_S, 'lease', tostring(deadline))
    redis.call('ZADD', active, deadline, id)
    local j = redis.call('HMGET', jk, 'payload', 'seller', 'parent', 'max', 'prio')
    emit(id, jtype, j[2], 'waiting', 'active')
    out[#out + 1] = id
    out[#out + 1] = attempt
    out[#out + 1] = token
    out[#out + 1] = j[1]
    out[#out + 1] = j[2]
    out[#out + 1] = j[3]
    out[#out + 1] = j[4]
    out[#out + 1] = j[5]
  end
end
redis.call('HSET', L['consumers'], consumer, NOW_S .. '|' .. jtype)
flush_metrics()
return out
