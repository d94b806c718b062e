--[[
Commits the positions of streams this consumer owns, each fenced by its lease's token.

KEYS[1] positions hash
KEYS[2] position tokens hash
KEYS[3] session key of this consumer
ARGV[1] nonce of this incarnation
ARGV[2..] triples of stream name, id of its last processed entry, lease token

Returns { 'lost' } (the session is gone: nothing written) or { 'ok', outcome... }, one outcome per triple:
'committed', or 'stale' when a later owner opened or wrote the position (nothing written for that stream).
]]
local positions, tokens, session = KEYS[1], KEYS[2], KEYS[3]
if redis.call('GET', session) ~= ARGV[1] then return { 'lost' } end
local result = { 'ok' }
for i = 2, #ARGV, 3 do
  local stream, id, token = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local fence = tonumber(redis.call('HGET', tokens, stream) or '0')
  if fence > tonumber(token) then
    result[#result + 1] = 'stale'
  else
    redis.call('HSET', positions, stream, id)
    redis.call('HSET', tokens, stream, token)
    result[#result + 1] = 'committed'
  end
end
return result
