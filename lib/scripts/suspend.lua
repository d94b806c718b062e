--[[
Keeps this consumer's streams reserved for its next process under the same id (close({ restart: true })): the session
key holds a restart marker for the grace period instead of the nonce, so the others see the consumer as alive and
take nothing over; its share is pinned to what it holds, so nothing is handed to it and nobody else's share changes.
If no process registers under the id within the grace, the key expires and the others take the streams over as
after close() (no delivery is counted: the consumer is in the released set).

KEYS[1] session key
KEYS[2] consumers sorted set
KEYS[3] members hash
KEYS[4] loads hash
KEYS[5] released set
ARGV[1] nonce of this incarnation
ARGV[2] consumer id
ARGV[3] grace (ms)
ARGV[4] this consumer's member record (JSON)

Returns 1, or 0 when the session was not this incarnation's (nothing is changed).
]]
--@include clock

local session, consumers, members, loads, released = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local nonce, me, grace, record = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]

if redis.call('GET', session) ~= nonce then return 0 end
redis.call('SET', session, 'restarting:' .. nonce, 'PX', grace)
redis.call('ZADD', consumers, server_time_ms() + grace, me)
local member = cjson.decode(record)
member.max = math.max(0, tonumber(redis.call('HGET', loads, me) or '0') or 0)
redis.call('HSET', members, me, cjson.encode(member))
redis.call('SADD', released, me)
return 1
