import type { Redis } from "ioredis";
import { key } from "../queue/names.js";

/** How long a chain's count is kept after its last step: a chain runs its steps within days. */
const CHAIN_TTL_S = 7 * 24 * 3600;

/**
 * KEYS[1]: the set of the downstream projects the chain triggered; ARGV[1]: the cap; ARGV[2]: the
 * set's lifetime (s); ARGV[3..]: the downstream ids wanted, in order. A project already in the set
 * is admitted again at no cost; a new one while the set is under the cap. Returns the admitted ids.
 */
const ADMIT = `
local cap = tonumber(ARGV[1])
local admitted = {}
for i = 3, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then
    admitted[#admitted + 1] = ARGV[i]
  elseif redis.call('SCARD', KEYS[1]) < cap then
    redis.call('SADD', KEYS[1], ARGV[i])
    admitted[#admitted + 1] = ARGV[i]
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return admitted
`;

/**
 * OPENCI_MAX_TRIGGERS_PER_CHAIN: the downstream ids of `wanted` the chain may trigger, in one step
 * across all its branches and worker processes. The cap counts distinct (chain, downstream)
 * triggers, as their job ids do: a repeated report of one passing run, a retried step or a second
 * path to the same project costs nothing more. Atomic in Redis, so workers racing on one chain
 * never admit more than `cap` projects in total.
 */
export async function admitToChain(redis: Redis, chainId: string, cap: number, wanted: string[]): Promise<Set<string>> {
  const admitted = (await redis.eval(ADMIT, 1, key("chain-downstreams", chainId), String(cap), String(CHAIN_TTL_S), ...wanted)) as string[];
  return new Set(admitted);
}
