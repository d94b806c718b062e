--[[
Ends this consumer's session for good (done(), close()). With nothing pending under it any more (every stream
finished or handed over), removes it from the fleet: its session, its place in the fleet and its consumer-group
entry; nobody needs to hear of it. With entries still pending, ends the session so that peers take them over at
once: the key is set to expire in 1 ms rather than deleted, since only an expiry publishes the `expired` event peers
listen for, and the caller touches the key afterwards (a script sees frozen time, so it cannot do it itself).

KEYS[1] session key
KEYS[2] consumers sorted set
KEYS[3] loads hash
KEYS[4] readers hash
KEYS[5] LBS stream
KEYS[6] released set
KEYS[7] started hash
KEYS[8] ended hash
KEYS[9] members hash
KEYS[10] membership counter
ARGV[1] nonce of this incarnation
ARGV[2] consumer id
ARGV[3] consumer group

Returns 1 when the consumer was removed, 0 when entries were still pending under it (its session expires now, so
that peers take them over), -1 when another incarnation holds the session (nothing is changed then).
]]
--@include clock
--@include entry
--@include forget

local session, consumers, loads, readers, lbs, released, started, ended =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local members, membership = KEYS[9], KEYS[10]
local nonce, me, group = ARGV[1], ARGV[2], ARGV[3]

-- Another live process holds this consumer id now: its place in the fleet is not ours to remove.
local holder = redis.call('GET', session)
if holder and holder ~= nonce then return -1 end

if has_pending(lbs, group, me) then
  if holder then
    redis.call('PEXPIRE', session, 1)
    redis.call('ZADD', consumers, server_time_ms(), me)
  end
  redis.call('HDEL', readers, me)
  redis.call('SADD', released, me)
  redis.call('INCR', membership)
  return 0
end
if holder then redis.call('DEL', session) end
forget({ consumers = consumers, loads = loads, readers = readers, released = released, started = started, ended = ended, lbs = lbs,
  members = members, membership = membership }, group, me)
return 1
