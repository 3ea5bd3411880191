-- Record a failed attempt. ARGV[4] id, ARGV[5] token, ARGV[6] consumer, ARGV[7] '1' for a
-- permanent failure, ARGV[8] retry delay (s), ARGV[9] error JSON {type, message, traceback}.
-- Returns the new state ('delayed' or 'dead'), or '' when the token is stale.
local id, token, consumer = ARGV[4], ARGV[5], ARGV[6]
local permanent, delay, err = ARGV[7] == '1', tonumber(ARGV[8]), ARGV[9]
local jk = jkey(id)
local j = redis.call('HMGET', jk, 'state', 'token', 'type', 'seller', 'parent', 'started',
  'attempt', 'max')
if j[1] ~= 'active' or j[2] ~= token or token == '' then
  return ''
end
local jtype = j[3]
redis.call('ZREM', key('active', jtype), id)
redis.call('SREM', key('awaiting', jtype), id)
attempt_record(id, j[7], consumer, j[6], err)
redis.call('HSET', jk, 'error', err)
metric(jtype, 'failed', 1)
local state
if permanent or (tonumber(j[7]) or 0) >= (tonumber(j[8]) or 1) then
  to_dead(id, jtype, j[4], j[5], 'active')
  state = 'dead'
else
  local due = NOW + delay
  redis.call('HSET', jk, 'state', 'delayed', 'token', '', 'lease', '', 'awaiting', '',
    'due', tostring(due))
  redis.call('ZADD', key('delayed', jtype), due, id)
  emit(id, jtype, j[4], 'active', 'delayed', 'retry in ' .. ARGV[8] .. ' s')
  state = 'delayed'
end
redis.call('HSET', L['consumers'], consumer, NOW_S .. '|' .. jtype)
flush_metrics()
return state
