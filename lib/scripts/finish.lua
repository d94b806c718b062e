--[[
Finishes streams this consumer owns: acknowledges and deletes their LBS entries, their ownership records and
their positions (a stream added again later starts afresh).

KEYS[1] LBS stream
KEYS[2] session key of this consumer
KEYS[3] owners hash
KEYS[4] loads hash
KEYS[5] positions hash
KEYS[6] position tokens hash
ARGV[1] consumer group
ARGV[2] consumer id
ARGV[3] nonce of this incarnation
ARGV[4..] pairs of entry id, stream name

Returns { 'lost' } (session gone: nothing finished) or { 'ok', outcome... }, one outcome per pair:
'done', or 'not-owner' when the entry is not pending under this consumer.
]]
--@include entry

local lbs, session, owners, loads, positions, tokens = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local group, me, nonce = ARGV[1], ARGV[2], ARGV[3]

if redis.call('GET', session) ~= nonce then return { 'lost' } end
local result = { 'ok' }
for i = 4, #ARGV, 2 do
  local id, stream = ARGV[i], ARGV[i + 1]
  if pending_owner(lbs, group, id) == me then
    drop_entry(lbs, group, id)
    if redis.call('HGET', owners, stream) == id then redis.call('HDEL', owners, stream) end
    redis.call('HINCRBY', loads, me, -1)
    redis.call('HDEL', positions, stream)
    redis.call('HDEL', tokens, stream)
    result[#result + 1] = 'done'
  else
    result[#result + 1] = 'not-owner'
  end
end
return result
