-- Prelude of the product store's scripts (pipeline/products.py, pipeline/product_counts.py).
-- A product's count bucket from its (status, live), and a move between buckets that only
-- touches counts that exist (absent: not yet counted; the first read counts them).
local function bucket(status, live)
  if live == '1' then return 'live' end
  if status == 'rejected' or status == 'flagged' or status == 'failed' then return status end
  return 'in_progress'
end

local function move(counts, from, to)
  if from == to or redis.call('EXISTS', counts) == 0 then return end
  if from then redis.call('HINCRBY', counts, from, -1) end
  if to then redis.call('HINCRBY', counts, to, 1) end
end

-- Bump the search generation and log each product at it, in one step: a reader of the
-- log at generation G has every change up to G.
local function bump(generation_key, changes_key, product_ids)
  local g = redis.call('INCR', generation_key)
  for _, pid in ipairs(product_ids) do redis.call('ZADD', changes_key, g, pid) end
  return g
end
