--[[
Appends an entry from the entry dead-letter stream to its data stream again (the operator's requeue), once: the
new id is recorded in a marker key in the data stream's slot, and a later call for the same record (a second
operator, or a rerun after a crash before the record was deleted) returns the recorded id instead of appending
again. The record itself lives in the service's slot, which may be another one: the caller deletes it afterwards,
and only then gives the marker an expiry, so that a requeue interrupted in between never appends twice.

KEYS[1] marker key (rsc:requeued:<service>:{<tag of the data stream>}:<record id>)
KEYS[2] data stream
ARGV[1..] the entry's fields: name, value, ...

Returns { 'appended', id }, { 'recorded', id } when the marker was there already, or { 'not-a-stream', type }
when the key is missing ('none') or holds another type: nothing is appended then.
]]
local marker, stream = KEYS[1], KEYS[2]

local recorded = redis.call('GET', marker)
if recorded then return { 'recorded', recorded } end
local kind = redis.call('TYPE', stream)['ok']
if kind ~= 'stream' then return { 'not-a-stream', kind } end
local added = redis.call('XADD', stream, '*', unpack(ARGV))
redis.call('SET', marker, added)
return { 'appended', added }
