--[[
Heartbeat: extends this consumer's session and sweeps peers whose session deadline has passed.
Touching an overdue peer's session key (EXISTS) makes Redis expire it now and publish its `expired` event,
however many other keys with a TTL the database holds. A peer found dead is also announced on the channel the
consumers hear expiries on, so that every survivor learns of it even when Redis's own event is lost or off.

KEYS[1] session key of this consumer
KEYS[2] consumers: sorted set, consumer id -> session deadline (server ms)
KEYS[3] LBS stream
KEYS[4] loads hash
KEYS[5] readers hash
KEYS[6] released set
KEYS[7] started hash: consumer id -> server ms its live incarnation registered
KEYS[8] ended hash: consumer id -> deadline of its last session, as the sweep found it
KEYS[9] members hash
KEYS[10] membership counter
ARGV[1] nonce of this incarnation
ARGV[2] session ttl (ms)
ARGV[3] consumer id
ARGV[4] session key prefix (session key = prefix .. consumer id)
ARGV[5] consumer group
ARGV[6] how long to wait before reporting a dead peer's unclaimed streams again (ms)
ARGV[7] most overdue peers to inspect in one call
ARGV[8] channel to announce dead peers on: 'keyspace', 'keyevent' or '' (none)
ARGV[9] database number, for the channel name
ARGV[10] tolerance of fair shares
ARGV[11] the membership counter when this consumer last had its excess computed, or '' to have it computed now

Returns { extended (1) or lost (0), server now (ms), next peer deadline (ms, -1 if none), membership counter,
  streams to give away now (shares.lua's excess_of; 0 while a takeover is due; -1 when not computed: the membership
  counter is as ARGV[11] says), dead peer ids... }
The shares are computed only when asked for or when the membership changed: they cost O(consumers), a heartbeat
without them O(1).
A dead peer is reported while it still has pending entries; one with none is forgotten. The first sweep that finds
a peer dead counts it as a change of membership.
]]
--@include clock
--@include entry
--@include forget
--@include shares

local session, consumers, lbs, loads, readers, released, started, ended =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local members, membership = KEYS[9], KEYS[10]
local nonce, ttl, me, prefix, group = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local recheck, limit, channel, db, tolerance, seen = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], ARGV[9], tonumber(ARGV[10]), ARGV[11]
local fleet = { consumers = consumers, loads = loads, readers = readers, released = released, started = started, ended = ended,
  lbs = lbs, members = members, membership = membership }

local now = server_time_ms()
if redis.call('GET', session) ~= nonce then return { 0, now, -1, 0, -1 } end
redis.call('PEXPIRE', session, ttl)
redis.call('ZADD', consumers, now + ttl, me)

local function announce(peer)
  if channel == 'keyspace' then
    redis.call('PUBLISH', '__keyspace@' .. db .. '__:' .. prefix .. peer, 'expired')
  elseif channel == 'keyevent' then
    redis.call('PUBLISH', '__keyevent@' .. db .. '__:expired', prefix .. peer)
  end
end

local result = { 1, now, -1, 0, -1 }
local overdue = redis.call('ZRANGEBYSCORE', consumers, '-inf', '(' .. now, 'WITHSCORES', 'LIMIT', 0, limit)
for i = 1, #overdue, 2 do
  local peer = overdue[i]
  if redis.call('EXISTS', prefix .. peer) == 0 then
    if has_pending(lbs, group, peer) then
      -- The deadline is about to be replaced by the time of the next report: keep when the session ended.
      if not redis.call('HGET', ended, peer) then
        redis.call('HSET', ended, peer, overdue[i + 1])
        redis.call('INCR', membership)
      end
      redis.call('ZADD', consumers, now + recheck, peer)
      announce(peer)
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

local current = redis.call('GET', membership) or '0'
result[4] = tonumber(current)
if seen ~= current then
  local shares = fleet_shares(fleet, prefix, tolerance, me)
  result[5] = shares.orphans and 0 or excess_of(shares, me, tonumber(redis.call('HGET', loads, me) or '0'))
end
return result
