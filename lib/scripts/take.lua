--[[
Takes new LBS entries for this consumer, keeping the fleet's shares even: a consumer holds back while it owns
more streams than the least loaded reading peer plus a slack (a share of that peer's load, at least a minimum). Each well formed entry is granted with a fencing
token; a malformed one goes to the dead-letter stream; one naming a stream that is already owned is dropped.

KEYS[1] LBS stream
KEYS[2] session key of this consumer
KEYS[3] consumers sorted set
KEYS[4] loads hash
KEYS[5] readers hash: consumer id -> server ms of its last take
KEYS[6] owners hash
KEYS[7] fencing token counter
KEYS[8] dead-letter stream
ARGV[1] consumer group
ARGV[2] consumer id
ARGV[3] nonce of this incarnation
ARGV[4] maxEntryBytes
ARGV[5] most entries to take, counting an adopted one (0: adopt only)
ARGV[6] slack: how many streams above the least loaded reading peer this consumer may own, at the least
ARGV[7] 1 to take even when above the fair share, 0 otherwise
ARGV[8] how long a peer counts as reading after its last take (ms)
ARGV[9] id of an entry a blocking read already delivered to this consumer, or ''
ARGV[10] session key prefix (session key = prefix .. consumer id)
ARGV[11] slack as a share of the least loaded reading peer's load, when larger than ARGV[6]

Returns { status, items... }: status 'more' (maybe more entries), 'empty' (none left), 'hold' (above fair share)
or 'lost' (session gone); items { 'granted', id, name, raw lbs-input, token } | { 'duplicate', id, name }
| { 'dead', id, reason }.
]]
--@include clock
--@include entry
--@include admit

local lbs, session, consumers, loads, readers, owners, token_key, dead_letter_key =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local group, me, nonce, max_bytes = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local max_take, slack, force, reading_window, adopt_id, prefix, slack_share =
  tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1', tonumber(ARGV[8]), ARGV[9], ARGV[10], tonumber(ARGV[11])

if redis.call('GET', session) ~= nonce then return { 'lost' } end
local now = server_time_ms()
local result = { 'more' }

local k = { lbs = lbs, owners = owners, loads = loads, token = token_key, dead_letter = dead_letter_key }

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

redis.call('HSET', readers, me, now)
local allowed = room
if not force then
  local mine = tonumber(redis.call('HGET', loads, me) or '0')
  local least
  for _, peer in ipairs(redis.call('ZRANGEBYSCORE', consumers, now, '+inf')) do
    local last = tonumber(redis.call('HGET', readers, peer) or '0')
    -- A peer counts while it reads and its session lives (the sorted set also keeps dead peers with entries).
    if peer ~= me and last >= now - reading_window and redis.call('EXISTS', prefix .. peer) == 1 then
      local load = tonumber(redis.call('HGET', loads, peer) or '0')
      if least == nil or load < least then least = load end
    end
  end
  if least ~= nil then
    allowed = math.min(room, least + math.max(slack, math.floor(least * slack_share)) - mine)
  end
end
if allowed <= 0 then
  result[1] = 'hold'
  return result
end

local read = redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', allowed, 'STREAMS', lbs, '>')
local entries = read and read[1][2] or {}
for _, entry in ipairs(entries) do
  result[#result + 1] = admit(k, group, me, max_bytes, entry[1], entry[2], false)
end
if #entries < allowed then result[1] = 'empty' end
return result
