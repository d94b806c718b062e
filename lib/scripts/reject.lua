--[[
Moves the LBS entry of a stream this consumer owns to the dead-letter stream, with the reason: the stream cannot
be processed (its key holds another type than a stream). Its position goes too, as when it is finished.

KEYS[1] LBS stream
KEYS[2] session key of this consumer
KEYS[3] owners hash
KEYS[4] loads hash
KEYS[5] dead-letter stream
KEYS[6] positions hash
KEYS[7] position tokens hash
ARGV[1] consumer group
ARGV[2] consumer id
ARGV[3] nonce of this incarnation
ARGV[4] maxEntryBytes (the bound of the dead-letter copy's values)
ARGV[5] entry id
ARGV[6] stream name
ARGV[7] reason

Returns 'lost' (session gone), 'rejected', or 'not-owner' when the entry is not pending under this consumer.
]]
--@include entry

local lbs, session, owners, loads, dead, positions, tokens = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local group, me, nonce, max_bytes = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local id, stream, reason = ARGV[5], ARGV[6], ARGV[7]

if redis.call('GET', session) ~= nonce then return 'lost' end
if pending_owner(lbs, group, id) ~= me then return 'not-owner' end
dead_letter(lbs, dead, group, id, read_entry(lbs, id) or {}, reason, max_bytes)
if redis.call('HGET', owners, stream) == id then redis.call('HDEL', owners, stream) end
redis.call('HINCRBY', loads, me, -1)
redis.call('HDEL', positions, stream)
redis.call('HDEL', tokens, stream)
return 'rejected'
