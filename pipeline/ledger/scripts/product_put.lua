-- KEYS[1] generation, KEYS[2] changes, KEYS[3] the log's tombstones, then per product: its
-- hash, the seller's hashes, the seller's counts. ARGV per product: record JSON, product
-- id, content hash. A new content hash makes the product pending again (in progress); the
-- version it already holds keeps its progress, because the jobs carrying that version are
-- still under way (a scrape retried after its follow-ups were queued must not strand
-- them). One bump for the batch.
local ids = {}
for i = 0, (#ARGV / 3) - 1 do
  local pk, hk, ck = KEYS[4 + 3 * i], KEYS[5 + 3 * i], KEYS[6 + 3 * i]
  local rec, pid, hash = ARGV[1 + 3 * i], ARGV[2 + 3 * i], ARGV[3 + 3 * i]
  local held = redis.call('HGET', hk, pid)
  if held == hash and redis.call('EXISTS', pk) == 1 then
    redis.call('HSET', pk, 'record', rec)
  else
    local from = nil
    if held then
      local old = redis.call('HMGET', pk, 'status', 'live')
      from = bucket(old[1], old[2])
    end
    redis.call('HSET', pk, 'record', rec, 'status', 'pending', 'live', '0')
    redis.call('HDEL', pk, 'verdict', 'indexed_hash')
    redis.call('HSET', hk, pid, hash)
    move(ck, from, 'in_progress')
  end
  redis.call('ZREM', KEYS[3], pid)
  ids[#ids + 1] = pid
end
return bump(KEYS[1], KEYS[2], ids)
