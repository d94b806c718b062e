--[[
Ends this consumer's session now, so that peers take its streams over at once (close()). The key is set to
expire in 1 ms rather than deleted: only an expiry publishes the `expired` event peers listen for. The caller
touches the key afterwards (a script sees frozen time, so it cannot do it itself).

KEYS[1] session key
KEYS[2] consumers sorted set
KEYS[3] readers hash
KEYS[4] released set
KEYS[5] membership counter
ARGV[1] nonce of this incarnation
ARGV[2] consumer id

Returns 1 when the session was ours, 0 otherwise.
]]
--@include clock

local session, consumers, readers, released, membership = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local nonce, me = ARGV[1], ARGV[2]

if redis.call('GET', session) ~= nonce then return 0 end
redis.call('PEXPIRE', session, 1)
redis.call('ZADD', consumers, server_time_ms(), me)
redis.call('HDEL', readers, me)
redis.call('SADD', released, me)
redis.call('INCR', membership)
return 1
