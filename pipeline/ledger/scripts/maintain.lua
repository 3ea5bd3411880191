-- Housekeeping for types nobody claims right now: promote due retries, expire leases,
-- trim completed jobs. ARGV[4] keep seconds, ARGV[5] keep count, ARGV[6..] types.
-- Returns {moved, trimmed}.
local keep_s, keep_n = tonumber(ARGV[4]), tonumber(ARGV[5])
local moved, trimmed = 0, 0
for i = 6, #ARGV do
  moved = moved + sweep(ARGV[i], 1000)
  trimmed = trimmed + trim(ARGV[i], keep_s, keep_n)
end
flush_metrics()
return {moved, trimmed}
