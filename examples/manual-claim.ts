// Run in two terminals: npx tsx examples/manual-claim.ts   (REDIS_URL defaults to
// redis://127.0.0.1:6379). Add streams with examples/producer.ts, then kill one copy (kill -9 <pid>, or Ctrl-C):
// within about heartbeatMs the other is told of the dead copy's streams (streamExpired) and decides to claim them.
// Each stream is read with lease.entries(), the way to process streams one by one yourself instead of with run().
import { createClient } from 'redis';
import { AlreadyClaimedError, RedisStreamClient, type ExpiredStream, type StreamLease } from 'redis-stream-client';

/** Past this many streams, leave orphans to the peers. */
const MAX_OWNED = 100;

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (error: Error) => console.error(`redis: ${error.message}`));
await redis.connect();

const client = new RedisStreamClient(redis, { serviceName: 'orders', autoClaim: false });
client.on('streamAdded', consume);
client.on('streamExpired', onExpired);
client.on('error', (error) => console.error(`${error.name}: ${error.message}`));
await client.init();
console.log(`${client.id()} (pid ${process.pid}) is consuming "orders"`);

/**
 * A peer died owning this stream. It is reported first to one survivor (chosen by rendezvous hashing of the LBS entry
 * id over the live consumers), then, if still unclaimed after a short grace (min(250 ms, heartbeatMs / 4)), to all
 * of them; a stream nobody claims stays reserved and is reported again about every 5 heartbeats.
 */
async function onExpired(expired: ExpiredStream): Promise<void> {
  if (client.owned().length >= MAX_OWNED) return;
  try {
    const lease = await client.claim(expired); // no streamAdded for a claim: start the work here
    console.log(`${lease.stream}: claimed from ${expired.previousOwner}`);
    await consume(lease);
  } catch (error) {
    // Expected when another consumer was faster ('taken') or the owner was not dead after all ('owner-alive').
    if (error instanceof AlreadyClaimedError) console.log(`${expired.stream}: not claimed (${error.reason})`);
    else throw error;
  }
}

/**
 * Processes one stream from the position its last owner committed. Asking for the next entry marks the one before
 * processed; positions are committed every 100 ms. The loop ends when the lease ends or the end marker is reached
 * (the stream is then finished). A rejection is reported through `error`.
 */
async function consume(lease: StreamLease): Promise<void> {
  console.log(`${lease.stream}: owned (token ${lease.token}), from ${(await client.getPosition(lease.stream)) ?? 'the start'}`);
  for await (const entry of lease.entries({ isEnd: (entry) => entry.fields.end !== undefined })) {
    console.log(`${lease.stream}: ${entry.id} ${JSON.stringify(entry.fields)}`); // the work, fenced with entry.token
  }
  console.log(`${lease.stream}: ${lease.signal.aborted ? 'lost' : 'finished'}`);
}
