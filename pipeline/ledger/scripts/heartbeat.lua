-- Extend leases. ARGV[4] consumer, ARGV[5] lease seconds, ARGV[6] n, then n pairs
-- id, token. Returns one flag per job: 1 extended, 0 refused (stale token, not active).
local consumer, lease, n = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local deadline = NOW + lease
local out = {}
local jtype = ''
for i = 0, n - 1 do
  local id, token = ARGV[7 + i * 2], ARGV[8 + i * 2]
  local j = redis.call('HMGET', jkey(id), 'state', 'token', 'type')
  if j[1] == 'active' and j[2] == token and token ~= '' then
    jtype = j[3]
    redis.call('ZADD', key('active', jtype), 'XX', deadline, id)
    redis.call('HSET', jkey(id), 'lease', tostring(deadline))
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
redis.call('HSET', L['consumers'], consumer, NOW_S .. '|' .. jtype)
return out
