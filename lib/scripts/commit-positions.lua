--[[
Commits the positions of streams this consumer owns, each fenced by its lease's token and by the lease itself: the
stream's LBS entry must still be pending under this consumer. (A commit that reaches Redis after the stream was
finished, for instance one resent with EVAL after NOSCRIPT behind a finish, writes nothing.)

KEYS[1] positions hash
KEYS[2] position tokens hash
KEYS[3] session key of this consumer
KEYS[4] LBS stream
ARGV[1] nonce of this incarnation
ARGV[2] consumer group
ARGV[3] consumer id
ARGV[4..] quadruples of stream name, id of its last processed entry, lease token, LBS entry id of the lease

Returns { 'lost' } (the session is gone: nothing written) or { 'ok', outcome... }, one outcome per quadruple:
'committed', or 'stale' when a later owner opened or wrote the position, or the lease's entry is not this
consumer's any more (nothing written for that stream).
]]
--@include entry
local positions, tokens, session, lbs = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, me = ARGV[2], ARGV[3]
if redis.call('GET', session) ~= ARGV[1] then return { 'lost' } end
local result = { 'ok' }
for i = 4, #ARGV, 4 do
  local stream, id, token, lbs_id = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local fence = tonumber(redis.call('HGET', tokens, stream) or '0')
  if fence > tonumber(token) or pending_owner(lbs, group, lbs_id) ~= me then
    result[#result + 1] = 'stale'
  else
    redis.call('HSET', positions, stream, id)
    redis.call('HSET', tokens, stream, token)
    result[#result + 1] = 'committed'
  end
end
return result
