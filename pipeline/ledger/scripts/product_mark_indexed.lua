-- KEYS[1] product hash, KEYS[2] generation, KEYS[3] changes; ARGV content hash, product
-- id, the seller counts key's prefix and suffix. The keyword index holds this version:
-- live if approved (0 when the product moved on).
local rec = redis.call('HGET', KEYS[1], 'record')
if not rec then return 0 end
local r = cjson.decode(rec)
if r['content_hash'] ~= ARGV[1] then return 0 end
local old = redis.call('HMGET', KEYS[1], 'status', 'live')
redis.call('HSET', KEYS[1], 'indexed_hash', ARGV[1])
if old[1] == 'approved' then
  redis.call('HSET', KEYS[1], 'live', '1')
  move(ARGV[3] .. r['seller_id'] .. ARGV[4], bucket(old[1], old[2]), 'live')
end
bump(KEYS[2], KEYS[3], {ARGV[2]})
return 1
