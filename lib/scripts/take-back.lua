--[[
Takes back given entries pending under this consumer that it holds no lease for, with new fencing tokens: a grant
whose reply was lost, or one that reached the blocking read of an incarnation that has ended since. A lost reply is
not the stream's fault: no delivery is counted. Ids no longer pending under this consumer are skipped. This
consumer's load is recounted from its pending entries.

KEYS[1] LBS stream
KEYS[2] session key of this consumer
KEYS[3] owners hash
KEYS[4] loads hash
KEYS[5] fencing token counter
KEYS[6] dead-letter stream
KEYS[7] offers hash
ARGV[1] consumer group
ARGV[2] consumer id
ARGV[3] nonce of this incarnation
ARGV[4] maxEntryBytes
ARGV[5..] entry ids

Returns { 'lost' } or { 'ok', items... } with the items of take.lua.
]]
--@include take-back

local k = { lbs = KEYS[1], owners = KEYS[3], loads = KEYS[4], token = KEYS[5], dead_letter = KEYS[6], offers = KEYS[7] }
local session = KEYS[2]
local group, me, nonce, max_bytes = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])

if redis.call('GET', session) ~= nonce then return { 'lost' } end
local pending = {}
for i = 5, #ARGV do
  local owner, deliveries = pending_owner(k.lbs, group, ARGV[i])
  if owner == me then pending[#pending + 1] = { ARGV[i], me, 0, deliveries } end
end
local result = { 'ok' }
take_back(k, group, me, pending, false, max_bytes, 0, result)
-- Recount: loads counts a lost grant's entry already, but not one a blocking read delivered after register.lua
-- counted what was pending, and this script cannot tell the two apart.
redis.call('HSET', k.loads, me, pending_count(k.lbs, group, me))
return result
