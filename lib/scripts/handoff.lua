--[[
Hands streams this consumer owns to the others, in one call: each entry moves to the participant furthest below its
fair share that may still receive (shares.lua), is recorded in that consumer's inbox, and the consumer is woken by a
message on its session key's keyspace channel. A receiver in autoClaim mode is granted the stream with a new fencing
token here; one in manual mode is offered it (recorded in offers: it claims it with claim(), from this consumer).
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
ARGV[6] inbox key prefix
ARGV[7] database number, for the channel name
ARGV[8..] pairs of entry id, stream name

Returns { 'lost' } (session gone: nothing moved) or { 'ok', room, outcome... } where room is how many streams the
others could be handed before this call (call it with no pairs to learn it), and one outcome per pair:
{ 'to', receiver }, { 'kept', new token } (nobody may be handed it now: it stays this consumer's, under a new lease)
or 'not-owner' (not this consumer's through that entry).
]]
--@include entry
--@include fencing
--@include shares

local lbs, session, owners, loads, members, token_key, offers, membership =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local group, me, nonce, tolerance, prefix, inbox_prefix, db = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]

if redis.call('GET', session) ~= nonce then return { 'lost' } end

local shares = fleet_shares({ loads = loads, members = members }, prefix, tolerance, me)
local room = 0
for _, consumer in ipairs(shares.order) do
  local m = shares.live[consumer]
  if consumer ~= me and m.known then room = room + room_of(m) end
end
local result = { 'ok', room }
local epoch = redis.call('GET', membership) or '0'
local nonces, given = {}, 0

for i = 8, #ARGV, 2 do
  local id, stream = ARGV[i], ARGV[i + 1]
  if pending_owner(lbs, group, id) ~= me or redis.call('HGET', owners, stream) ~= id then
    result[#result + 1] = 'not-owner'
  else
    local receiver = receiver_among(shares, me)
    if receiver == nil then
      result[#result + 1] = { 'kept', string.format('%d', next_token(token_key)) }
    else
      local m = shares.live[receiver]
      nonces[receiver] = nonces[receiver] or redis.call('GET', prefix .. receiver)
      -- JUSTID: a hand-off is no delivery; the count of deliveries stays as it was.
      redis.call('XCLAIM', lbs, group, receiver, 0, id, 'JUSTID')
      local item = { id = id, stream = stream, nonce = nonces[receiver], epoch = epoch }
      if m.auto then
        item.token = string.format('%d', next_token(token_key))
      else
        item.from = me
        redis.call('HSET', offers, id, me)
      end
      redis.call('RPUSH', inbox_prefix .. receiver, cjson.encode(item))
      redis.call('HINCRBY', loads, receiver, 1)
      m.load = m.load + 1
      given = given + 1
      result[#result + 1] = { 'to', receiver }
    end
  end
end
if given > 0 then redis.call('HINCRBY', loads, me, -given) end
for receiver in pairs(nonces) do
  redis.call('PUBLISH', '__keyspace@' .. db .. '__:' .. prefix .. receiver, 'handoff')
end
return result
