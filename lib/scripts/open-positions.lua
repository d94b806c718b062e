--[[
Opens the positions of streams this consumer was just granted: raises each stream's position token to the lease's
token (from then on, a write by an earlier owner is refused) and returns the stored position.

KEYS[1] positions hash
KEYS[2] position tokens hash
ARGV[1..] pairs of stream name, lease token

Returns one pair per stream: 'open', the stored position ('' when none); or 'stale', '' when a later owner has
already opened or written it (the lease is out of date).
]]
local positions, tokens = KEYS[1], KEYS[2]
local result = {}
for i = 1, #ARGV, 2 do
  local stream, token = ARGV[i], tonumber(ARGV[i + 1])
  local fence = tonumber(redis.call('HGET', tokens, stream) or '0')
  if fence > token then
    result[#result + 1] = 'stale'
    result[#result + 1] = ''
  else
    redis.call('HSET', tokens, stream, ARGV[i + 1])
    result[#result + 1] = 'open'
    result[#result + 1] = redis.call('HGET', positions, stream) or ''
  end
end
return result
