--[[
Takes back entries pending under this consumer that it holds no lease for, with new fencing tokens: after
registering an incarnation, everything its predecessor held (page by page); after a lost reply, the given entries.
Taking an entry back counts one more delivery only when asked to: when a new process follows one that failed alone
(register.lua). A stall, an outage or a lost reply is not the stream's fault.

KEYS[1] LBS stream
KEYS[2] session key of this consumer
KEYS[3] owners hash
KEYS[4] loads hash
KEYS[5] fencing token counter
KEYS[6] dead-letter stream
ARGV[1] consumer group
ARGV[2] consumer id
ARGV[3] nonce of this incarnation
ARGV[4] list entries after this id ('-' to start), or 'ids' to take the entries listed from ARGV[8] on
ARGV[5] most entries to list
ARGV[6] maxEntryBytes
ARGV[7] maxDeliveries: an entry delivered this many times is dead-lettered (its owners keep failing)
ARGV[8] 1 to count this as one more delivery, 0 not to
ARGV[9..] entry ids, with 'ids'

Returns { 'lost' } or { 'ok', last id listed or '' when done, items... } with the items of take.lua.
]]
--@include ownership
--@include entry
--@include admit

local lbs, session, owners, loads, token_key, dead_letter_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local group, me, nonce, after, count, max_bytes, max_deliveries, counts =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8] == '1'

if redis.call('GET', session) ~= nonce then return { 'lost' } end
local k = { lbs = lbs, owners = owners, loads = loads, token = token_key, dead_letter = dead_letter_key }
local pending = {}
local result = { 'ok', '' }
if after == 'ids' then
  for i = 9, #ARGV do
    local owner, deliveries = pending_owner(lbs, group, ARGV[i])
    if owner == me then pending[#pending + 1] = { ARGV[i], me, 0, deliveries } end
  end
else
  local start = after == '-' and '-' or '(' .. after
  pending = redis.call('XPENDING', lbs, group, start, '+', count, me)
  if #pending == count then result[2] = pending[#pending][1] end
end
for _, p in ipairs(pending) do
  local id = p[1]
  local fields = read_entry(lbs, id)
  if fields == nil then
    redis.call('XACK', lbs, group, id)
    redis.call('HINCRBY', loads, me, -1)
  elseif counts and p[4] >= max_deliveries then
    local reason = 'its owners died ' .. p[4] .. ' times (maxDeliveries ' .. max_deliveries .. ')'
    local name = decode_entry(fields, max_bytes)
    if name and redis.call('HGET', owners, name) == id then redis.call('HDEL', owners, name) end
    dead_letter(lbs, dead_letter_key, group, id, fields, reason, max_bytes)
    redis.call('HINCRBY', loads, me, -1)
    result[#result + 1] = { 'dead', id, reason }
  else
    redis.call('XCLAIM', lbs, group, me, 0, id, 'RETRYCOUNT', counts and p[4] + 1 or p[4], 'JUSTID')
    result[#result + 1] = admit(k, group, me, max_bytes, id, fields, true)
  end
end
return result
