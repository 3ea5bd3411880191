-- Report progress. ARGV[4] id, ARGV[5] token, ARGV[6] percent, ARGV[7] message.
-- Returns 1, or 0 when the token is stale.
local id, token = ARGV[4], ARGV[5]
local j = redis.call('HMGET', jkey(id), 'state', 'token', 'type', 'seller')
if j[1] ~= 'active' or j[2] ~= token or token == '' then
  return 0
end
redis.call('HSET', jkey(id), 'progress', ARGV[6], 'pmsg', ARGV[7])
emit(id, j[3], j[4], 'active', 'active', 'progress ' .. ARGV[6])
return 1
