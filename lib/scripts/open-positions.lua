--[[
Opens the positions of streams this consumer was just granted: raises each stream's position token to the lease's
token (from then on, a write by an earlier owner is refused) and returns the stored position. A lease whose LBS
entry is not pending under this consumer any more (finished meanwhile, or taken) opens nothing.

KEYS[1] positions hash
KEYS[2] position tokens hash
KEYS[3] LBS stream
ARGV[1] consumer group
ARGV[2] consumer id
ARGV[3..] triples of stream name, lease token, LBS entry id of the lease

Returns one pair per stream: 'open', the stored position ('' when none); or 'stale', '' when a later owner has
already opened or written it, or the lease's entry is not this consumer's (the lease is out of date).
]]
--@include entry
local positions, tokens, lbs = KEYS[1], KEYS[2], KEYS[3]
local group, me = ARGV[1], ARGV[2]
local result = {}
for i = 3, #ARGV, 3 do
  local stream, token, lbs_id = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local fence = tonumber(redis.call('HGET', tokens, stream) or '0')
  if fence > tonumber(token) or pending_owner(lbs, group, lbs_id) ~= me then
    result[#result + 1] = 'stale'
    result[#result + 1] = ''
  else
    redis.call('HSET', tokens, stream, token)
    result[#result + 1] = 'open'
    result[#result + 1] = redis.call('HGET', positions, stream) or ''
  end
end
return result
