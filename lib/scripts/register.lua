--[[
Starts an incarnation of this consumer: its session key holds the incarnation's nonce.
A new incarnation may replace only its own previous one, never a live incarnation of another process.

KEYS[1] session key
KEYS[2] consumers sorted set
KEYS[3] LBS stream
KEYS[4] loads hash
KEYS[5] released set
ARGV[1] nonce of the new incarnation
ARGV[2] nonce of the incarnation it replaces ('' for none)
ARGV[3] session ttl (ms)
ARGV[4] consumer id
ARGV[5] consumer group

Returns { 1, server now } when registered; { 0, ms until the live holder's session expires } otherwise.
]]
--@include ownership

local session, consumers, lbs, loads, released = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local nonce, previous, ttl, me, group = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]

local current = redis.call('GET', session)
if current and current ~= previous then return { 0, redis.call('PTTL', session) } end

local now = server_time_ms()
redis.call('SET', session, nonce, 'PX', ttl)
redis.call('ZADD', consumers, now + ttl, me)
redis.call('SREM', released, me)
-- Recount what this consumer owns: the pending entries list is the truth, loads only a cache of it.
local owned = 0
local listed = redis.pcall('XINFO', 'CONSUMERS', lbs, group)
if listed.err then listed = {} end
for _, consumer in ipairs(listed) do
  local name, pending
  for i = 1, #consumer, 2 do
    if consumer[i] == 'name' then name = consumer[i + 1] end
    if consumer[i] == 'pending' then pending = consumer[i + 1] end
  end
  if name == me then owned = pending end
end
redis.call('HSET', loads, me, owned)
return { 1, now }
