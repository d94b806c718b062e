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
ARGV[7..] triples of entry id, stream name, the stream's Info as JSON (passed on to the receiver)

Returns { 'lost' } (session gone: nothing moved) or { 'ok', room, outcome... } where room is how many streams the
others could be handed before this call (call it with no triples to learn it), and one outcome per triple:
{ 'to', receiver }, { 'kept', new token } (nobody may be handed it now: it stays this consumer's, under a new lease)
or 'not-owner' (not this consumer's through that entry).
]]
--@include entry
--@include fencing
--@include shares

local lbs, session, owners, loads, members, token_key, offers, membership =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local group, me, nonce, tolerance, prefix, db = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6]

if redis.call('GET', session) ~= nonce then return { 'lost' } end

local shares = fleet_shares({ loads = loads, members = members }, prefix, tolerance, me)
local room = 0
for _, consumer in ipairs(shares.order) do
  local m = shares.live[consumer]
  if consumer ~= me and m.known then room = room + room_of(m) end
end
local result = { 'ok', room }
if #ARGV < 7 then return result end

-- Per receiver: the streams it is handed, in order of the call.
local handed, receivers, given = {}, {}, 0
for i = 7, #ARGV, 3 do
  local id, stream, info = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HGET', owners, stream) ~= id or pending_owner(lbs, group, id) ~= me then
    result[#result + 1] = 'not-owner'
  else
    local receiver = receiver_among(shares, me)
    if receiver == nil then
      result[#result + 1] = { 'kept', string.format('%d', next_token(token_key)) }
    else
      local m = shares.live[receiver]
      -- JUSTID: a hand-off is no delivery; the count of deliveries stays as it was.
      redis.call('XCLAIM', lbs, group, receiver, 0, id, 'JUSTID')
      local token = ''
      if m.auto then token = string.format('%d', next_token(token_key))
      else redis.call('HSET', offers, id, me) end
      if handed[receiver] == nil then
        handed[receiver] = {}
        receivers[#receivers + 1] = receiver
      end
      local list = handed[receiver]
      list[#list + 1] = { id, stream, token, info }
      m.load = m.load + 1
      given = given + 1
      result[#result + 1] = { 'to', receiver }
    end
  end
end
if given > 0 then
  redis.call('HINCRBY', loads, me, -given)
  local epoch = redis.call('GET', membership) or '0'
  for _, receiver in ipairs(receivers) do
    redis.call('HINCRBY', loads, receiver, #handed[receiver])
    local message = cjson.encode({ n = redis.call('GET', prefix .. receiver), m = epoch, g = me, s = handed[receiver] })
    redis.call('PUBLISH', '__keyspace@' .. db .. '__:' .. prefix .. receiver, 'handoff:' .. message)
  end
end
return result
