--[[
Changes what the fleet knows of this consumer (drain, resume): a change of membership.

KEYS[1] session key of this consumer
KEYS[2] members hash
KEYS[3] membership counter
ARGV[1] nonce of this incarnation
ARGV[2] consumer id
ARGV[3] the member record (JSON: weight, max, auto, draining)

Returns 1, or 0 when the session is not this incarnation's (the next incarnation registers the record).
]]

local session, members, membership = KEYS[1], KEYS[2], KEYS[3]
local nonce, me, record = ARGV[1], ARGV[2], ARGV[3]

if redis.call('GET', session) ~= nonce then return 0 end
redis.call('HSET', members, me, record)
redis.call('INCR', membership)
return 1
