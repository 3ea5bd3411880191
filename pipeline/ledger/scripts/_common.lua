-- Prelude shared by every ledger script. ARGV[1] the key layout (JSON, from
-- RedisKeys.lua_layout: no key name is spelled in Lua), ARGV[2] now (s, float),
-- ARGV[3] events stream max length; each script's own arguments start at ARGV[4].
-- Keys are built from the layout here: the ledger targets one Redis (not Cluster).
local L = cjson.decode(ARGV[1])
local NOW = tonumber(ARGV[2])
local EVENTS_MAXLEN = tonumber(ARGV[3])
local NOW_S = ARGV[2]

local function key(name, ...)
  return L[name] .. table.concat({...}, ':')
end

local function jkey(id)
  return L['job'] .. id
end

-- Per-minute counters, gathered in a table and written once per script run.
local METRICS = {}
local function metric(jtype, field, n)
  local t = METRICS[jtype]
  if not t then
    t = {}
    METRICS[jtype] = t
  end
  t[field] = (t[field] or 0) + n
end

local function flush_metrics()
  local minute = math.floor(NOW / 60)
  for jtype, fields in pairs(METRICS) do
    local mk = key('m', jtype, minute)
    for field, n in pairs(fields) do
      redis.call('HINCRBY', mk, field, n)
    end
    redis.call('EXPIRE', mk, 7200)
    if fields['completed'] then
      redis.call('LTRIM', key('dur', jtype), 0, 999)
    end
  end
end

local function emit(id, jtype, seller, from, to, note)
  redis.call('XADD', L['events'], 'MAXLEN', '~', EVENTS_MAXLEN, '*',
    'job', id, 'type', jtype, 'seller', seller, 'from', from, 'to', to,
    'at', NOW_S, 'note', note or '')
end

local function attempt_record(id, attempt, consumer, started, error_json)
  local ok, err = pcall(cjson.decode, error_json)
  if not ok then err = {type = 'Unknown', message = error_json} end
  local rec = cjson.encode({attempt = tonumber(attempt) or 0, consumer = consumer or '',
    started = tonumber(started), finished = NOW, error = err})
  redis.call('RPUSH', jkey(id) .. L['attempts_suffix'], rec)
end

local finish_completed

-- A child ended (completed or dead): count it on the parent, and complete a parent whose
-- own work is done once nothing is pending. Recurses up through grandparents.
local function child_ended(parent, ctype, outcome)
  if not parent or parent == '' then return end
  local pk = jkey(parent)
  if redis.call('EXISTS', pk) == 0 then return end
  redis.call('HINCRBY', pk .. L['children_suffix'], ctype .. ':' .. outcome, 1)
  redis.call('HINCRBY', pk, 'ch_' .. outcome, 1)
  local p = redis.call('HMGET', pk, 'state', 'awaiting', 'ch_total', 'ch_completed', 'ch_dead',
    'type', 'seller', 'parent', 'started')
  if p[1] == 'active' and p[2] == '1' and
      (tonumber(p[4]) or 0) + (tonumber(p[5]) or 0) >= (tonumber(p[3]) or 0) then
    redis.call('SREM', key('awaiting', p[6]), parent)
    finish_completed(parent, p[6], p[7], p[8], p[9], 'children-ended')
  end
end

finish_completed = function(id, jtype, seller, parent, started, note)
  local jk = jkey(id)
  redis.call('HSET', jk, 'state', 'completed', 'finished', NOW_S, 'progress', '100',
    'token', '', 'lease', '', 'awaiting', '')
  redis.call('ZADD', key('done', jtype), NOW, id)
  local s = tonumber(started)
  if s then redis.call('LPUSH', key('dur', jtype), tostring(NOW - s)) end
  metric(jtype, 'completed', 1)
  emit(id, jtype, seller, 'active', 'completed', note)
  child_ended(parent, jtype, 'completed')
end

local function to_dead(id, jtype, seller, parent, from)
  redis.call('HSET', jkey(id), 'state', 'dead', 'finished', NOW_S, 'token', '', 'lease', '',
    'awaiting', '')
  redis.call('ZADD', key('dead', jtype), NOW, id)
  redis.call('ZADD', L['dead_all'], NOW, id)
  redis.call('ZADD', key('dead-seller', seller), NOW, id)
  metric(jtype, 'dead', 1)
  emit(id, jtype, seller, from, 'dead')
  child_ended(parent, jtype, 'dead')
end

local function delete_job(id)
  local jk = jkey(id)
  local idem = redis.call('HGET', jk, 'idem')
  if idem and idem ~= '' and redis.call('GET', key('idem', idem)) == id then
    redis.call('DEL', key('idem', idem))
  end
  redis.call('DEL', jk, jk .. L['attempts_suffix'], jk .. L['children_suffix'])
end

-- Move due retries to their queue and expired leases back to the front of theirs (the
-- lost attempt is recorded; a job out of attempts becomes dead). Returns how many moved.
local function sweep(jtype, limit)
  local moved = 0
  local due = redis.call('ZRANGEBYSCORE', key('delayed', jtype), '-inf', NOW, 'LIMIT', 0, limit)
  for _, id in ipairs(due) do
    redis.call('ZREM', key('delayed', jtype), id)
    local j = redis.call('HMGET', jkey(id), 'prio', 'seller')
    redis.call('RPUSH', key('q', jtype, j[1]), id)
    redis.call('HSET', jkey(id), 'state', 'waiting')
    emit(id, jtype, j[2], 'delayed', 'waiting', 'due')
    moved = moved + 1
  end
  local expired = redis.call('ZRANGEBYSCORE', key('active', jtype), '-inf', NOW, 'LIMIT', 0, limit)
  for _, id in ipairs(expired) do
    redis.call('ZREM', key('active', jtype), id)
    local jk = jkey(id)
    local j = redis.call('HMGET', jk, 'attempt', 'max', 'consumer', 'started', 'seller', 'parent',
      'prio', 'lease')
    local err = cjson.encode({type = 'LeaseExpired', message = 'lease expired at ' ..
      (j[8] or '?') .. ' (consumer ' .. (j[3] or '?') .. ' died or hung)', traceback = ''})
    attempt_record(id, j[1], j[3], j[4], err)
    redis.call('HSET', jk, 'error', err)
    metric(jtype, 'failed', 1)
    if (tonumber(j[1]) or 0) >= (tonumber(j[2]) or 1) then
      to_dead(id, jtype, j[5], j[6], 'active')
    else
      redis.call('LPUSH', key('q', jtype, j[7]), id)
      redis.call('HSET', jk, 'state', 'waiting', 'token', '', 'lease', '')
      emit(id, jtype, j[5], 'active', 'waiting', 'lease-expired')
    end
    moved = moved + 1
  end
  return moved
end

-- Trim completed jobs of a type beyond the kept age or count; bounded work per call.
local function trim(jtype, keep_s, keep_n)
  local dk = key('done', jtype)
  local trimmed = 0
  local old = redis.call('ZRANGEBYSCORE', dk, '-inf', NOW - keep_s, 'LIMIT', 0, 1000)
  for _, id in ipairs(old) do
    delete_job(id)
    redis.call('ZREM', dk, id)
    trimmed = trimmed + 1
  end
  local excess = redis.call('ZCARD', dk) - keep_n
  if excess > 0 then
    local popped = redis.call('ZPOPMIN', dk, math.min(excess, 1000))
    for k = 1, #popped, 2 do
      delete_job(popped[k])
      trimmed = trimmed + 1
    end
  end
  if trimmed > 0 then
    redis.call('HINCRBY', key('count', jtype), 'trimmed', trimmed)
  end
  return trimmed
end
