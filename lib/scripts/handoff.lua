--[[
Hands streams this consumer owns to the others, in one call: each entry moves to the participant furthest below its
fair share that may still be handed one (shares.lua). A receiver in autoClaim mode is granted the stream with a new
fencing token here; one in manual mode is offered it (recorded in offers: it claims it with claim(), from this
consumer). Each receiver then gets one message on its session key's keyspace channel, `handoff:` followed by JSON
{ n = its nonce, m = the membership counter, g = this consumer, s = { { id, stream, token ('' for an offer), info
JSON }... } }: it owns the streams from the message alone. A message lost with a reconnect leaves the entries pending
under the receiver with no lease there, which its self-check takes back.
The caller has already stopped working on the streams and ended their leases. A draining consumer (drain(), close())
is out of the shares, so everything it holds may go.

KEYS[1] LBS stream
KEYS[2] session key of this consumer
KEYS[3] owners hash
KEYS[4] loads hash
KEYS[5] members hash
KEYS[6] fencing token counter
KEYS[7] offers hash
KEYS[8] membership counter
ARGV[1] consumer group
ARGV[2] consumer id
ARGV[3] nonce of this incarnation
ARGV[4] tolerance of fair shares
ARGV[5] session key prefix (session key = prefix .. consumer id)
ARGV[6] database number, for the channel name
ARGV[7] what becomes of a stream nobody may be handed now: 'keep' (it stays this consumer's, with a new token for a
  new lease) or 'leave' (untouched, pending under this consumer: close() ends the session next, and the others take
  it over)
ARGV[8..] triples of entry id, stream name, the stream's Info as JSON (passed on to the receiver), best in order of
  entry id (one range of pending entries then answers for all of them); a few thousand at most, since their ids are
  unpacked into one XCLAIM per receiver

Returns { 'lost' } (session gone: nothing moved) or { 'ok', room, receivers, outcome... } where room is how many
streams the others could be handed before this call (call it with no triples to learn it), receivers lists the
consumers handed streams, and there is one outcome per triple: the receiver's place in receivers (1, 2, ...), 0 (not
this consumer's through that entry), -1 (left) or the new token of a stream kept (a string).
]]
--@include entry
--@include fencing
--@include shares

local lbs, session, owners, loads, members, token_key, offers, membership =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local group, me, nonce, tolerance, prefix, db, unhanded =
  ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
local NOT_OWNER, LEFT = 0, -1

if redis.call('GET', session) ~= nonce then return { 'lost' } end

local shares = fleet_shares({ loads = loads, members = members }, prefix, tolerance, me)
local room = 0
for _, consumer in ipairs(shares.order) do
  local m = shares.live[consumer]
  if consumer ~= me and m.known then room = room + room_of(m) end
end
local result = { 'ok', room, {} }
local count = (#ARGV - 7) / 3
if count < 1 then return result end
-- Triple i: entry id, stream, Info.
local function triple(i) return ARGV[5 + 3 * i], ARGV[6 + 3 * i], ARGV[7 + 3 * i] end
if room == 0 and unhanded == 'leave' then
  for _ = 1, count do result[#result + 1] = LEFT end
  return result
end

-- Which of the streams are still this consumer's through the entry named: the owners record names the entry, and
-- the entry is pending under this consumer. One XPENDING over the range of the entries (the caller sends them in
-- order of id) answers for most of them at once; an entry it did not list (a range cut short by other entries of
-- this consumer, or entries out of order) is looked up alone. (HGET per stream rather than one HMGET: the
-- least-privilege ACL rule has no +hmget, and it would save 0.4 us per stream.)
local listed = {}
local range = redis.pcall('XPENDING', lbs, group, triple(1), (triple(count)), count, me)
if type(range) == 'table' and range.err == nil then
  for _, pending in ipairs(range) do listed[pending[1]] = true end
end
local function still_mine(id, stream)
  return redis.call('HGET', owners, stream) == id and (listed[id] or pending_owner(lbs, group, id) == me)
end

-- Each stream goes to its receiver; per receiver, its entries are claimed in one XCLAIM and its streams listed for
-- its message.
local handed, receivers, given = {}, {}, 0
for i = 1, count do
  local id, stream, info = triple(i)
  local receiver = still_mine(id, stream) and receiver_among(shares, me)
  if receiver == false then
    result[#result + 1] = NOT_OWNER
  elseif receiver == nil then
    result[#result + 1] = unhanded == 'keep' and string.format('%d', next_token(token_key)) or LEFT
  else
    local m = shares.live[receiver]
    local list = handed[receiver]
    if list == nil then
      receivers[#receivers + 1] = receiver
      list = { place = #receivers, ids = {}, streams = {} }
      handed[receiver] = list
    end
    local token = ''
    if m.auto then token = string.format('%d', next_token(token_key))
    else redis.call('HSET', offers, id, me) end
    list.ids[#list.ids + 1] = id
    list.streams[#list.streams + 1] = { id, stream, token, info }
    m.load = m.load + 1
    given = given + 1
    result[#result + 1] = list.place
  end
end
if given > 0 then
  redis.call('HINCRBY', loads, me, -given)
  local epoch = redis.call('GET', membership) or '0'
  for _, receiver in ipairs(receivers) do
    local list = handed[receiver]
    -- JUSTID: a hand-off is no delivery; the count of deliveries stays as it was.
    list.ids[#list.ids + 1] = 'JUSTID'
    redis.call('XCLAIM', lbs, group, receiver, 0, unpack(list.ids))
    redis.call('HINCRBY', loads, receiver, #list.streams)
    local message = cjson.encode({ n = redis.call('GET', prefix .. receiver), m = epoch, g = me, s = list.streams })
    redis.call('PUBLISH', '__keyspace@' .. db .. '__:' .. prefix .. receiver, 'handoff:' .. message)
  end
end
result[3] = receivers
return result
