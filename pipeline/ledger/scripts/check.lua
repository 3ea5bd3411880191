-- Counts per state, read atomically, and the ledger's invariants. ARGV[4] '1' for the deep
-- check (every indexed job's state and type agree with its index, and no job sits in two
-- indexes), ARGV[5..] types. Returns a JSON string {counts = {...}, problems = [...]}.
local deep = ARGV[4] == '1'
local counts = {}
local problems = {}
local seen = {}
local function check_members(ids, jtype, state, where)
  for _, id in ipairs(ids) do
    if seen[id] then
      problems[#problems + 1] = id .. ' is in ' .. where .. ' and in ' .. seen[id]
    end
    seen[id] = where
    local j = redis.call('HMGET', jkey(id), 'state', 'type', 'awaiting')
    if j[1] ~= state or j[2] ~= jtype then
      problems[#problems + 1] = id .. ' in ' .. where .. ' has state ' .. tostring(j[1]) ..
        ' type ' .. tostring(j[2])
    end
  end
end
local dead_total = 0
for i = 5, #ARGV do
  local t = ARGV[i]
  local c = {waiting = 0}
  for p = 0, 2 do
    c.waiting = c.waiting + redis.call('LLEN', key('q', t, p))
  end
  c.delayed = redis.call('ZCARD', key('delayed', t))
  c.leased = redis.call('ZCARD', key('active', t))
  c.awaiting = redis.call('SCARD', key('awaiting', t))
  c.active = c.leased + c.awaiting
  c.completed = redis.call('ZCARD', key('done', t))
  c.dead = redis.call('ZCARD', key('dead', t))
  dead_total = dead_total + c.dead
  local ctr = redis.call('HMGET', key('count', t), 'created', 'trimmed', 'purged')
  c.created = tonumber(ctr[1]) or 0
  c.trimmed = tonumber(ctr[2]) or 0
  c.purged = tonumber(ctr[3]) or 0
  local held = c.waiting + c.delayed + c.active + c.completed + c.dead
  if held ~= c.created - c.trimmed - c.purged then
    problems[#problems + 1] = t .. ': ' .. held .. ' jobs in states but created ' .. c.created ..
      ' - trimmed ' .. c.trimmed .. ' - purged ' .. c.purged
  end
  counts[t] = c
  if deep then
    for p = 0, 2 do
      check_members(redis.call('LRANGE', key('q', t, p), 0, -1), t, 'waiting', t .. ' queue ' .. p)
    end
    check_members(redis.call('ZRANGE', key('delayed', t), 0, -1), t, 'delayed', t .. ' delayed')
    check_members(redis.call('ZRANGE', key('active', t), 0, -1), t, 'active', t .. ' leases')
    check_members(redis.call('SMEMBERS', key('awaiting', t)), t, 'active', t .. ' awaiting')
    check_members(redis.call('ZRANGE', key('done', t), 0, -1), t, 'completed', t .. ' completed')
    check_members(redis.call('ZRANGE', key('dead', t), 0, -1), t, 'dead', t .. ' dead')
  end
end
local all_dead = redis.call('ZCARD', L['dead_all'])
if all_dead ~= dead_total then
  problems[#problems + 1] = 'dead index holds ' .. all_dead .. ' but types hold ' .. dead_total
end
return cjson.encode({counts = counts, problems = problems})
