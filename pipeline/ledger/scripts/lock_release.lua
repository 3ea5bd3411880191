-- KEYS: lock. ARGV: holder, token. Deletes the lock only when it is ours.
local h, t = parse(redis.call('GET', KEYS[1]))
if h == ARGV[1] and t == ARGV[2] then return redis.call('DEL', KEYS[1]) end
return 0
