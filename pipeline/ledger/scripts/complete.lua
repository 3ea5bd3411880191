-- Complete claimed jobs. ARGV[4] consumer, ARGV[5] keep seconds, ARGV[6] keep count,
-- ARGV[7] n, then n triples: id, token, result JSON. Returns one flag per job:
-- 1 done (completed, or waiting for its children), 0 refused (stale token / not active).
local consumer = ARGV[4]
local keep_s, keep_n = tonumber(ARGV[5]), tonumber(ARGV[6])
local n = tonumber(ARGV[7])
local out = {}
local touched = {}
for i = 0, n - 1 do
  local b = 8 + i * 3
  local id, token = ARGV[b], ARGV[b + 1]
  local jk = jkey(id)
  local j = redis.call('HMGET', jk, 'state', 'token', 'type', 'seller', 'parent', 'started',
    'ch_total', 'ch_completed', 'ch_dead')
  if j[1] ~= 'active' or j[2] ~= token or token == '' then
    out[#out + 1] = 0
  else
    local jtype = j[3]
    touched[jtype] = true
    redis.call('ZREM', key('active', jtype), id)
    redis.call('HSET', jk, 'result', ARGV[b + 2])
    local pending = (tonumber(j[7]) or 0) - (tonumber(j[8]) or 0) - (tonumber(j[9]) or 0)
    if pending > 0 then
      -- Own work done, children still running: stays active, without a lease.
      redis.call('HSET', jk, 'awaiting', '1', 'token', '', 'lease', '')
      redis.call('SADD', key('awaiting', jtype), id)
      emit(id, jtype, j[4], 'active', 'active', 'awaiting-children')
    else
      finish_completed(id, jtype, j[4], j[5], j[6], '')
    end
    out[#out + 1] = 1
  end
end
for jtype, _ in pairs(touched) do
  trim(jtype, keep_s, keep_n)
end
redis.call('HSET', L['consumers'], consumer, NOW_S .. '|' .. (next(touched) or ''))
flush_metrics()
return out
