--[[
Sets a stream's position from outside the processing (client.setPosition): allowed to the stream's current owner,
with its lease's token, or to anyone while nobody owns the stream.

KEYS[1] positions hash
KEYS[2] position tokens hash
KEYS[3] owners hash
KEYS[4] LBS stream
ARGV[1] consumer group
ARGV[2] stream name
ARGV[3] the position (a stream id)
ARGV[4] consumer id of the caller
ARGV[5] the caller's lease token for the stream, or '' when it holds no lease

Returns 'set', or 'owned' when another consumer owns the stream (or the caller's lease is out of date).
]]
--@include entry
local positions, tokens, owners, lbs = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, stream, position, me, token = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local recorded = redis.call('HGET', owners, stream)
local owner = recorded and pending_owner(lbs, group, recorded)
if owner then
  local fence = tonumber(redis.call('HGET', tokens, stream) or '0')
  if owner ~= me or token == '' or fence > tonumber(token) then return 'owned' end
  redis.call('HSET', tokens, stream, token)
end
redis.call('HSET', positions, stream, position)
return 'set'
