-- KEYS[1] product hash, KEYS[2] generation, KEYS[3] changes; ARGV content hash, status,
-- verdict JSON, product id, the seller counts key's prefix and suffix (the counts move
-- with the state; the seller is read from the record), then any statuses it may only
-- move from. Only for this very version (0 when the product moved on, or is in none of
-- those statuses); live only when approved and the keyword index holds it.
local rec = redis.call('HGET', KEYS[1], 'record')
if not rec then return 0 end
local r = cjson.decode(rec)
if r['content_hash'] ~= ARGV[1] then return 0 end
local old = redis.call('HMGET', KEYS[1], 'status', 'live')
if #ARGV > 6 then
  local allowed = false
  for i = 7, #ARGV do
    if old[1] == ARGV[i] then allowed = true end
  end
  if not allowed then return 0 end
end
local live = '0'
if ARGV[2] == 'approved' and redis.call('HGET', KEYS[1], 'indexed_hash') == ARGV[1] then
  live = '1'
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'live', live)
move(ARGV[5] .. r['seller_id'] .. ARGV[6], bucket(old[1], old[2]), bucket(ARGV[2], live))
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'verdict', ARGV[3]) end
bump(KEYS[2], KEYS[3], {ARGV[4]})
return 1
