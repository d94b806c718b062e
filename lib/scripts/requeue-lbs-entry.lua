--[[
Puts an LBS entry from the dead-letter stream back onto the LBS (the operator's requeue), in one step: the copy is
added to the LBS as a new entry and removed from the dead-letter stream, or neither happens. A second requeue of
the same record, at the same time or later, finds it gone and adds nothing.

KEYS[1] dead-letter stream
KEYS[2] LBS stream
ARGV[1] id of the record in the dead-letter stream
ARGV[2..] the entry's fields, as the record keeps them: name, value, ...

Returns { 'requeued', new LBS entry id }, or { 'not-found' } when the record is not in the dead-letter stream.
]]
local dead, lbs = KEYS[1], KEYS[2]
local id = ARGV[1]

-- The caller read the record's fields; a record never changes, so it is enough that it is still there.
if #redis.call('XRANGE', dead, id, id) == 0 then return { 'not-found' } end
local added = redis.call('XADD', lbs, '*', unpack(ARGV, 2))
redis.call('XDEL', dead, id)
return { 'requeued', added }
