-- Fair shares: the one rule by which new streams are handed out (take.lua), streams are moved (heartbeat.lua,
-- handoff.lua) and receivers are chosen. Each live consumer that is not draining gets a share of all owned streams
-- in proportion to its weight, never above its maxStreams (water-filling: what a capped consumer cannot hold is
-- shared among the others). A consumer is over its share only beyond the tolerance: max(1, tolerance x share).
-- k holds the keys: loads (consumer -> streams owned), members (consumer -> JSON of weight, max, auto, draining).

-- What the fleet knows of a consumer (defaults for one registered by a version without members: a participant
-- that is never handed streams, since it would not hear of them).
local function member_of(k, consumer)
  local raw = redis.call('HGET', k.members, consumer)
  local ok, m = pcall(cjson.decode, raw or '')
  if not ok or type(m) ~= 'table' then return { weight = 1, max = math.huge, auto = false, draining = false, known = false } end
  local weight = tonumber(m.weight)
  if weight == nil or weight <= 0 then weight = 1 end
  return { weight = weight, max = tonumber(m.max) or math.huge, auto = m.auto == true, draining = m.draining == true, known = true }
end

-- The shares of the live, non-draining consumers (`me` among them, unless it drains), of all owned streams plus
-- `extra` (streams about to be taken). Returns { total, orphans, order, live } where orphans is true
-- when a consumer whose session is gone still owns streams (a takeover is due), order lists the participants and
-- live maps each to { load, share, allowance, weight, max, auto, known }.
local function fleet_shares(k, prefix, tolerance, me, extra)
  local loads = redis.call('HGETALL', k.loads)
  local total, orphans, order, live = extra or 0, false, {}, {}
  local function join(consumer, load)
    local m = member_of(k, consumer)
    if not m.draining then
      m.load = load
      live[consumer] = m
      order[#order + 1] = consumer
    end
  end
  local counted = false
  for i = 1, #loads, 2 do
    local consumer, load = loads[i], math.max(0, tonumber(loads[i + 1]) or 0)
    total = total + load
    counted = counted or consumer == me
    if redis.call('EXISTS', prefix .. consumer) == 1 then
      join(consumer, load)
    elseif load > 0 then
      orphans = true
    end
  end
  -- Loads counts a consumer from its registration on; the caller's session is checked already.
  if not counted then join(me, 0) end
  -- Water-filling: cap whoever cannot hold its proportional part, and share the rest among the others.
  local remaining, weights, capped = total, 0, {}
  for _, consumer in ipairs(order) do weights = weights + live[consumer].weight end
  local changed = true
  while changed and weights > 0 do
    changed = false
    for _, consumer in ipairs(order) do
      local m = live[consumer]
      if not capped[consumer] and m.max < m.weight * remaining / weights then
        capped[consumer], m.share = true, m.max
        remaining, weights, changed = remaining - m.max, weights - m.weight, true
      end
    end
  end
  for _, consumer in ipairs(order) do
    local m = live[consumer]
    if not capped[consumer] then m.share = weights > 0 and m.weight * remaining / weights or 0 end
    m.allowance = math.max(1, tolerance * m.share)
  end
  return { total = total, orphans = orphans, order = order, live = live }
end

-- How many streams `m` may still be handed: up to its share (rounded up; the givers give down to theirs), never
-- above its max. Not up to the tolerance: a consumer filled past its share would leave another one short for good.
local function room_of(m)
  return math.max(0, math.min(math.ceil(m.share), m.max) - m.load)
end

-- How many streams `me` should give away now: down to its share (rounded up) once it is above its share beyond the
-- tolerance, or, while another consumer is below its share beyond the tolerance (one that just joined, say), down
-- to its share rounded down, so that what the rounding leaves over can reach that one too; at most what the others
-- may be handed. A draining consumer (not among the participants) gives everything it owns.
local function excess_of(shares, me, load)
  local room, short = 0, false
  for _, consumer in ipairs(shares.order) do
    local m = shares.live[consumer]
    if consumer ~= me and m.known then
      room = room + room_of(m)
      short = short or m.load < m.share - m.allowance
    end
  end
  local mine = shares.live[me]
  if mine == nil then return math.min(load, room) end
  local target
  if short then target = math.floor(mine.share)
  elseif mine.load > mine.share + mine.allowance then target = math.ceil(mine.share)
  else return 0 end
  return math.max(0, math.min(mine.load - target, room))
end

-- The participant other than `giver` that may receive a stream now, furthest below its share; nil when none may.
-- Only consumers that hear of hand-offs (known members) receive.
local function receiver_among(shares, giver)
  local best, best_need
  for _, consumer in ipairs(shares.order) do
    local m = shares.live[consumer]
    if consumer ~= giver and m.known and room_of(m) > 0 then
      local need = m.share - m.load
      if best == nil or need > best_need then best, best_need = consumer, need end
    end
  end
  return best
end
