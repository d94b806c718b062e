--[[
Heartbeat: extends this consumer's session and sweeps peers whose session deadline has passed.
Touching an overdue peer's session key (EXISTS) makes Redis expire it now and publish its `expired` event,
however many other keys with a TTL the database holds.

KEYS[1] session key of this consumer
KEYS[2] consumers: sorted set, consumer id -> session deadline (server ms)
KEYS[3] LBS stream
KEYS[4] loads hash
KEYS[5] readers hash
KEYS[6] released set
ARGV[1] nonce of this incarnation
ARGV[2] session ttl (ms)
ARGV[3] consumer id
ARGV[4] session key prefix (session key = prefix .. consumer id)
ARGV[5] consumer group
ARGV[6] how long to wait before reporting a dead peer's unclaimed streams again (ms)
ARGV[7] most overdue peers to inspect in one call

Returns { extended (1) or lost (0), server now (ms), next peer deadline (ms, -1 if none), dead peer ids... }
A dead peer is reported while it still has pending entries; one with none is forgotten.
]]
--@include ownership
--@include entry
--@include forget

local session, consumers, lbs, loads, readers, released = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local fleet = { consumers = consumers, loads = loads, readers = readers, released = released, lbs = lbs }
local nonce, ttl, me, prefix, group = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local recheck, limit = tonumber(ARGV[6]), tonumber(ARGV[7])

local now = server_time_ms()
if redis.call('GET', session) ~= nonce then return { 0, now, -1 } end
redis.call('PEXPIRE', session, ttl)
redis.call('ZADD', consumers, now + ttl, me)

local result = { 1, now, -1 }
local overdue = redis.call('ZRANGEBYSCORE', consumers, '-inf', '(' .. now, 'LIMIT', 0, limit)
for _, peer in ipairs(overdue) do
  if redis.call('EXISTS', prefix .. peer) == 0 then
    if has_pending(lbs, group, peer) then
      redis.call('ZADD', consumers, now + recheck, peer)
      result[#result + 1] = peer
    else
      forget(fleet, group, peer)
    end
  end
end

local first = redis.call('ZRANGE', consumers, 0, 1, 'WITHSCORES')
for i = 1, #first, 2 do
  if first[i] ~= me then
    result[3] = tonumber(first[i + 1])
    break
  end
end
return result
