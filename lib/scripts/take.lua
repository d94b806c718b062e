--[[
Takes new LBS entries for this consumer within its fair share (shares.lua: the same rule rebalancing moves streams
by), counting the entries it is about to take among the streams shared (as many as it may take, or as wait to be
delivered when fewer do). Each well formed entry is granted with a fencing token; a malformed one goes to the
dead-letter stream; one naming a stream that is already owned is dropped. With no entry waiting it reads nothing.

KEYS[1] LBS stream
KEYS[2] session key of this consumer
KEYS[3] loads hash
KEYS[4] members hash
KEYS[5] owners hash
KEYS[6] fencing token counter
KEYS[7] dead-letter stream
ARGV[1] consumer group
ARGV[2] consumer id
ARGV[3] nonce of this incarnation
ARGV[4] maxEntryBytes
ARGV[5] most entries to take, counting an adopted one (0: adopt only)
ARGV[6] tolerance: how far above its fair share a consumer may go (shares.lua)
ARGV[7] 1 to take even when above the fair share, 0 otherwise
ARGV[8] id of an entry a blocking read already delivered to this consumer, or ''
ARGV[9] session key prefix (session key = prefix .. consumer id)

Returns { status, items... }: status 'more' (maybe more entries), 'empty' (none left) or 'lost' (session gone);
or { 'hold', last delivered id, items... } when above the fair share (taking nothing but an adopted entry), with
the LBS group's last delivered id ('' without the LBS or its group): it moves whenever any consumer is delivered a
new entry, by a take or a blocking read, and only then (finishing, hand-offs and claims leave it), so the reader can
tell peers that take, however slowly, from peers that take nothing (lib/hold-back.ts). Items:
{ 'granted', id, name, raw lbs-input, token } | { 'duplicate', id, name } | { 'dead', id, reason }.
]]
--@include entry
--@include admit
--@include shares

-- The LBS consumer group, as the fair share sees it: how many entries wait to be delivered (a delivered entry stays
-- pending until its stream is finished, and is then deleted, so the stream's length less the pending count), and
-- the id of the last entry delivered (see the header). nil without the LBS or its group: XREADGROUP then says NOGROUP,
-- and the reader creates the group.
local function group_state(lbs, group)
  if redis.call('EXISTS', lbs) == 0 then return nil end
  for _, info in ipairs(redis.call('XINFO', 'GROUPS', lbs)) do
    local fields = {}
    for i = 1, #info - 1, 2 do fields[info[i]] = info[i + 1] end
    if fields['name'] == group then
      return { waiting = math.max(0, redis.call('XLEN', lbs) - fields['pending']), last_delivered = fields['last-delivered-id'] }
    end
  end
  return nil
end

local lbs, session, loads, members, owners, token_key, dead_letter_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local group, me, nonce, max_bytes = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local max_take, tolerance, force, adopt_id, prefix = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1', ARGV[8], ARGV[9]

if redis.call('GET', session) ~= nonce then return { 'lost' } end
local result = { 'more' }

local k = { lbs = lbs, owners = owners, loads = loads, members = members, token = token_key, dead_letter = dead_letter_key }

local room = max_take
if adopt_id ~= '' and pending_owner(lbs, group, adopt_id) == me then
  local fields = read_entry(lbs, adopt_id)
  if fields then
    -- A take sent again after its reply was lost finds the entry admitted already, and counted in loads.
    local name = decode_entry(fields, max_bytes)
    local counted = name ~= nil and redis.call('HGET', owners, name) == adopt_id
    result[#result + 1] = admit(k, group, me, max_bytes, adopt_id, fields, counted)
    room = room - 1
  else
    redis.call('XACK', lbs, group, adopt_id)
  end
end
if room <= 0 then return result end

local allowed = room
if not force then
  local state = group_state(lbs, group)
  -- Nothing to take: the reader waits in its blocking read, whatever its share.
  if state and state.waiting == 0 then
    result[1] = 'empty'
    return result
  end
  -- Counting the entries it is about to take: what it asks for, or fewer when fewer are there (the tail of a burst
  -- is shared as evenly as the rest).
  local mine = fleet_shares(k, prefix, tolerance, me, state and math.min(room, state.waiting) or room).live[me]
  allowed = mine and math.min(room, math.floor(mine.share + mine.allowance) - mine.load) or 0
  if allowed <= 0 then
    result[1] = 'hold'
    table.insert(result, 2, state and state.last_delivered or '')
    return result
  end
end

local read = redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', allowed, 'STREAMS', lbs, '>')
local entries = read and read[1][2] or {}
for _, entry in ipairs(entries) do
  result[#result + 1] = admit(k, group, me, max_bytes, entry[1], entry[2], false)
end
if #entries < allowed then result[1] = 'empty' end
return result
