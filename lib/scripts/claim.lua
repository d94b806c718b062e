--[[
Claims streams of a dead consumer. For each entry, atomically: the previous owner's session is gone, the entry
is still pending under it and names the given stream; then it moves to this consumer with a new fencing token.
Exactly one of several concurrent claimers wins each entry.

KEYS[1] LBS stream
KEYS[2] session key of this consumer
KEYS[3] session key of the previous owner
KEYS[4] owners hash
KEYS[5] loads hash
KEYS[6] fencing token counter
KEYS[7] released: set of consumers that handed their streams over (close()) rather than died
KEYS[8] dead-letter stream
KEYS[9] consumers sorted set
KEYS[10] started hash
KEYS[11] ended hash
KEYS[12] offers hash: entry id -> the consumer that offered it to a manual-mode receiver (handoff.lua)
ARGV[1] consumer group
ARGV[2] consumer id
ARGV[3] nonce of this incarnation
ARGV[4] previous owner id
ARGV[5] maxEntryBytes
ARGV[6] maxDeliveries
ARGV[7] session key prefix (session key = prefix .. consumer id)
ARGV[8..] triples of entry id, stream name ('' to claim whatever stream the entry names), and 1 when the caller
  knows the entry (it was reported to it: no need to read it back), 0 when the entry must be read

An entry the previous owner offered to this consumer (handoff.lua, to a receiver in manual mode) is claimed while the
previous owner lives: it is pending under this consumer already, and counted in its load.

Returns { 'lost' } (this consumer's session is gone) or { 'ok', outcome... } with one outcome per triple:
{ fencing token, stream name, raw lbs-input, 'takeover' or 'handoff' (offered) } when claimed (raw lbs-input ''
when the caller knows the entry), or
'alive' (the previous owner's session exists and the entry was not offered), 'taken' (no longer pending
under the previous owner), 'mismatch' (the entry does not name that stream), 'duplicate' (the stream is
held through another entry; this one was dropped), 'poison' (its owners died maxDeliveries times: the entry was
dead-lettered), 'malformed' (the entry is malformed: it was dead-lettered).
The previous owner's end counts as a delivery only when it failed alone (failure.lua); a hand-off never does.
]]
--@include ownership
--@include entry
--@include failure
--@include fencing

local lbs, session, previous_session, owners, loads, token_key, released, dead_letter_key =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local fleet = { consumers = KEYS[9], started = KEYS[10], ended = KEYS[11] }
local offers = KEYS[12]
local group, me, nonce, previous = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local max_bytes, max_deliveries, prefix = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]

if redis.call('GET', session) ~= nonce then return { 'lost' } end
local alive = redis.call('EXISTS', previous_session) == 1

-- A hand-off by close() keeps the delivery count; an owner that failed alone adds one.
local counts = not alive and redis.call('SISMEMBER', released, previous) == 0
  and failed_alone(fleet, prefix, previous, server_time_ms())
local result = { 'ok' }
-- loads are updated once at the end: entries moved to this consumer, entries the previous owner no longer holds.
local moved, released_by_previous = 0, 0

-- Moves an entry to this consumer (JUSTID: the entry itself is not needed) and returns its outcome.
local function grant(id, deliveries, name, raw)
  local claimed = redis.call('XCLAIM', lbs, group, me, 0, id, 'RETRYCOUNT', counts and deliveries + 1 or deliveries, 'JUSTID')
  if #claimed == 0 then
    -- Deleted from the stream meanwhile (Redis then drops it from the pending list): nothing left to own.
    if redis.call('HGET', owners, name) == id then redis.call('HDEL', owners, name) end
    released_by_previous = released_by_previous + 1
    return 'taken'
  end
  moved = moved + 1
  redis.call('HDEL', offers, id) -- offered to the previous owner, which died before claiming it
  return { next_token(token_key), name, raw, 'takeover' }
end

-- Checks an entry against what it names, reading and decoding it.
local function claim_checked(id, stream, deliveries)
  local fields = read_entry(lbs, id)
  if not fields then
    redis.call('XACK', lbs, group, id) -- deleted from the stream: nothing left to own
    released_by_previous = released_by_previous + 1
    return 'taken'
  end
  local name, detail = decode_entry(fields, max_bytes)
  if name == nil then
    dead_letter(lbs, dead_letter_key, group, id, fields, detail, max_bytes)
    released_by_previous = released_by_previous + 1
    return 'malformed'
  end
  if stream ~= '' and name ~= stream then return 'mismatch' end
  local holder, recorded = other_holder(lbs, owners, group, name, id)
  if holder then
    drop_entry(lbs, group, id)
    released_by_previous = released_by_previous + 1
    return 'duplicate'
  end
  if counts and deliveries >= max_deliveries then
    dead_letter(lbs, dead_letter_key, group, id, fields,
      'its owners died ' .. deliveries .. ' times (maxDeliveries ' .. max_deliveries .. ')', max_bytes)
    if recorded == id then redis.call('HDEL', owners, name) end
    released_by_previous = released_by_previous + 1
    return 'poison'
  end
  if recorded ~= id then redis.call('HSET', owners, name, id) end
  return grant(id, deliveries, name, detail)
end

-- An entry offered by `previous` (alive or not) and pending under this consumer: granted, nothing else changes.
local function claim_offer(id, stream, known)
  if pending_owner(lbs, group, id) ~= me then return 'taken' end
  if stream == '' or redis.call('HGET', owners, stream) ~= id then return 'mismatch' end
  redis.call('HDEL', offers, id)
  local raw = ''
  if not known then
    local fields = read_entry(lbs, id) or {}
    for j = 1, #fields, 2 do
      if fields[j] == 'lbs-input' then raw = fields[j + 1] end
    end
  end
  return { next_token(token_key), stream, raw, 'handoff' }
end

for i = 8, #ARGV, 3 do
  local id, stream, known = ARGV[i], ARGV[i + 1], ARGV[i + 2] == '1'
  local owner, deliveries = pending_owner(lbs, group, id)
  if redis.call('HGET', offers, id) == previous then
    result[#result + 1] = claim_offer(id, stream, known)
  elseif alive then
    result[#result + 1] = 'alive'
  elseif owner ~= previous then
    result[#result + 1] = 'taken'
  elseif known and stream ~= '' and (not counts or deliveries < max_deliveries) and redis.call('HGET', owners, stream) == id then
    -- Admitted under this very name and held through this entry: nothing to read, the caller knows the entry.
    result[#result + 1] = grant(id, deliveries, stream, '')
  else
    result[#result + 1] = claim_checked(id, stream, deliveries)
  end
end
if moved + released_by_previous > 0 then redis.call('HINCRBY', loads, previous, -(moved + released_by_previous)) end
if moved > 0 then redis.call('HINCRBY', loads, me, moved) end
return result
