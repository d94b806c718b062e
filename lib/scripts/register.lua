--[[
Starts an incarnation of this consumer: its session key holds the incarnation's nonce.
A new incarnation may replace only its own previous one, or the restart marker an earlier process under the same id
left with close({ restart: true }), never a live incarnation of another process.

KEYS[1] session key
KEYS[2] consumers sorted set
KEYS[3] LBS stream
KEYS[4] loads hash
KEYS[5] released set
KEYS[6] started hash
KEYS[7] ended hash
KEYS[8] protocol version
KEYS[9] members hash
KEYS[10] membership counter
ARGV[1] nonce of the new incarnation
ARGV[2] nonce of the incarnation it replaces ('' for none: a new process)
ARGV[3] session ttl (ms)
ARGV[4] consumer id
ARGV[5] consumer group
ARGV[6] session key prefix (session key = prefix .. consumer id)
ARGV[7] protocol version of this consumer
ARGV[8] this consumer's member record (JSON: weight, max, auto, draining)

Returns { 1, server now, failed } when registered, where failed is 1 when a new process follows an earlier one
that failed alone (see failure.lua: what it still holds counts one more delivery when taken back), else 0;
{ 0, ms until the live holder's session expires } while another live incarnation holds the id;
{ 2, version } when the service runs a later protocol version than this consumer's (nothing is changed).
]]
--@include clock
--@include entry
--@include failure

local session, consumers, lbs, loads, released, started, ended = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local protocol, members, membership = KEYS[8], KEYS[9], KEYS[10]
local nonce, previous, ttl, me, group, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
local version, record = tonumber(ARGV[7]), ARGV[8]

local recorded = tonumber(redis.call('GET', protocol) or '0') or 0
if recorded > version then return { 2, recorded } end
local current = redis.call('GET', session)
-- A restart marker (suspend.lua) keeps the id's streams for the next process under it: this one.
local restarting = current and string.sub(current, 1, 11) == 'restarting:'
if current and current ~= previous and not restarting then return { 0, redis.call('PTTL', session) } end

local now = server_time_ms()
-- An earlier process under this id that ended without handing over (close()) failed, unless a pause ended
-- everyone's session with it. A renewal by the same process after a stall or an outage never counts.
local failed = 0
local k = { consumers = consumers, started = started, ended = ended }
if previous == '' and redis.call('SISMEMBER', released, me) == 0 and session_end(k, me) ~= nil
  and failed_alone(k, prefix, me, now) then
  failed = 1
end

redis.call('SET', session, nonce, 'PX', ttl)
redis.call('ZADD', consumers, now + ttl, me)
redis.call('HSET', started, me, now)
redis.call('HDEL', ended, me)
redis.call('SREM', released, me)
if recorded < version then redis.call('SET', protocol, version) end
redis.call('HSET', members, me, record)
redis.call('INCR', membership)
-- Recount what this consumer owns: the pending entries list is the truth, loads only a cache of it.
redis.call('HSET', loads, me, pending_count(lbs, group, me))
return { 1, now, failed }
