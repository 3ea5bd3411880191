-- Prelude of the leader lock's scripts and of every script fenced by it: the lock's
-- value is '<holder>|<token>|<deadline>'; parse gives the three (nil when absent).
local function parse(v)
  if not v then return nil end
  local h, t, d = string.match(v, '^(.*)|(%d+)|([^|]+)$')
  return h, t, tonumber(d)
end
