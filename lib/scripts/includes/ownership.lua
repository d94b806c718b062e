--@include entry
-- Ownership records: owners maps a stream name to the LBS entry that holds it, loads counts what each consumer owns.

-- The entry id that holds `name` now, other than `id`, or nil (a record whose entry is no longer pending is stale);
-- then the entry id recorded for `name`, stale or not.
local function other_holder(lbs, owners, group, name, id)
  local recorded = redis.call('HGET', owners, name)
  if not recorded or recorded == id then return nil, recorded end
  if pending_owner(lbs, group, recorded) == nil then return nil, recorded end
  return recorded, recorded
end
