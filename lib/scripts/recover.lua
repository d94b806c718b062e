--[[
Takes back, a page at a time, the entries still pending under this consumer after it registered an incarnation:
what its predecessor held. With new fencing tokens. Taking an entry back counts one more delivery only when asked
to: when a new process follows one that failed alone (register.lua). A stall or an outage is not the stream's fault.

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
ARGV[4] list entries after this id ('-' to start)
ARGV[5] most entries to list
ARGV[6] maxEntryBytes
ARGV[7] maxDeliveries: an entry delivered this many times is dead-lettered (its owners keep failing)
ARGV[8] 1 to count this as one more delivery, 0 not to

Returns { 'lost' } or { 'ok', last id listed or '' when done, items... } with the items of take.lua.
]]
--@include take-back

local k = { lbs = KEYS[1], owners = KEYS[3], loads = KEYS[4], token = KEYS[5], dead_letter = KEYS[6], offers = KEYS[7] }
local session = KEYS[2]
local group, me, nonce, after, count, max_bytes, max_deliveries, counts =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8] == '1'

if redis.call('GET', session) ~= nonce then return { 'lost' } end
local result = { 'ok', '' }
local pending = redis.call('XPENDING', k.lbs, group, after == '-' and '-' or '(' .. after, '+', count, me)
if #pending == count then result[2] = pending[#pending][1] end
take_back(k, group, me, pending, counts, max_bytes, max_deliveries, result)
return result
