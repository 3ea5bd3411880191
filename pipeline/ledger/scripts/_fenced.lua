-- Prelude of the scripts fenced by the scheduler's leader lock (after _lock.lua): KEYS[1]
-- the lock, ARGV[1] holder, ARGV[2] token, ARGV[3] now. Aborts with FENCED unless the lock
-- still holds this holder's token with a deadline after now.
local fh, ft, fd = parse(redis.call('GET', KEYS[1]))
if fh ~= ARGV[1] or ft ~= ARGV[2] or fd <= tonumber(ARGV[3]) then
  return redis.error_reply('FENCED lock lost')
end
