import os from "node:os";
import { Mem0InputError } from "../errors.js";
import { requireScope, type MemoryScope } from "../scope.js";
import type { OutboxEntry } from "./base.js";

/** `host:pid` of a lease holder is alive, as far as this host can tell. */
export function holderAlive(holder: string | null): boolean {
  if (!holder) return false;
  const [host, pid] = holder.split(":");
  if (host !== os.hostname()) return true;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Whether another live worker holds the entry's lease: a lease that has not run out and
 * belongs to someone else is respected, unless its process died on this host (then it is
 * taken over at once).
 */
export function leaseHeldByOther(
  lease: { lease_until: string | null; lease_holder: string | null },
  holder: string,
): boolean {
  return (
    lease.lease_until !== null &&
    lease.lease_until > new Date().toISOString() &&
    lease.lease_holder !== holder &&
    holderAlive(lease.lease_holder)
  );
}

/** Checks a new outbox entry; returns its owner with only the ids it gives. */
export function checkOutboxEntry(
  entry: Pick<OutboxEntry, "id" | "owner" | "payload" | "createdAt">,
): MemoryScope {
  const owner = requireScope(entry.owner);
  if (typeof entry.id !== "string" || entry.id === "") {
    throw new Mem0InputError("An outbox entry needs a non-empty id.");
  }
  return owner;
}

/** How much of an attempt's error an entry keeps. */
export const MAX_ERROR_LENGTH = 2000;
