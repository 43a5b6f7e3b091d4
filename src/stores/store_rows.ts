import type { MemoryMetadata } from "../backends/base.js";
import type {
  GraphEdge,
  GraphEntity,
  HistoryEntry,
  LoggedMessage,
  OutboxEntry,
  StoredMemory,
  StoredProfile,
} from "./base.js";
import { ownerOf, type OwnerColumns } from "./scope_sql.js";

/** A JSON column: text in SQLite, already parsed where the driver decodes JSON (Postgres). */
type Json<T> = string | T;

function parsed<T>(value: Json<T>): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

/** A memory row without its embedding (the same column names in every SQL store). */
export interface MemoryRow extends OwnerColumns {
  id: string;
  text: string;
  hash: string;
  metadata: Json<MemoryMetadata>;
  created_at: string;
  updated_at: string;
}

export function toMemory(row: MemoryRow): StoredMemory {
  return {
    id: row.id,
    text: row.text,
    hash: row.hash,
    metadata: parsed(row.metadata),
    ...ownerOf(row),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface HistoryRow {
  id: number | string;
  memory_id: string;
  event: HistoryEntry["event"];
  previous: string | null;
  next: string | null;
  actor: string | null;
  created_at: string;
}

export function toHistoryEntry(row: HistoryRow): HistoryEntry {
  return {
    id: String(row.id),
    memoryId: row.memory_id,
    event: row.event,
    previous: row.previous,
    next: row.next,
    actor: row.actor,
    createdAt: row.created_at,
  };
}

export interface EntityRow extends OwnerColumns {
  id: string;
  name: string;
  /** The aliases, sorted. */
  aliases: Json<string[]>;
  created_at: string;
}

export function toEntity(row: EntityRow): GraphEntity {
  return {
    id: row.id,
    name: row.name,
    aliases: parsed(row.aliases),
    ...ownerOf(row),
    createdAt: row.created_at,
  };
}

export interface EdgeRow extends OwnerColumns {
  id: string;
  source_id: string;
  source_name: string;
  relation: string;
  destination_id: string;
  destination_name: string;
  valid_from: string;
  valid_to: string | null;
  origin: string | null;
  created_at: string;
}

export function toEdge(row: EdgeRow): GraphEdge {
  const edge: GraphEdge = {
    id: row.id,
    sourceId: row.source_id,
    source: row.source_name,
    relation: row.relation,
    destinationId: row.destination_id,
    destination: row.destination_name,
    validFrom: row.valid_from,
    createdAt: row.created_at,
  };
  if (row.valid_to !== null) edge.validTo = row.valid_to;
  if (row.origin !== null) edge.origin = row.origin;
  return Object.assign(edge, ownerOf(row));
}

export interface OutboxRow extends OwnerColumns {
  id: string;
  payload: string;
  created_at: string;
  attempts: number;
  last_error: string | null;
  forget: Json<string[]>;
}

export function toOutboxEntry(row: OutboxRow): OutboxEntry {
  return {
    id: row.id,
    owner: ownerOf(row),
    payload: row.payload,
    createdAt: row.created_at,
    attempts: row.attempts,
    ...(row.last_error !== null ? { lastError: row.last_error } : {}),
    forget: parsed(row.forget),
  };
}

/** A logged message (without its vector); the id is the log's key, a number in either store. */
export interface MessageRow extends OwnerColumns {
  id: number | string;
  role: string;
  content: string;
  created_at: string;
}

export function toLoggedMessage(row: MessageRow): LoggedMessage {
  return {
    id: String(row.id),
    role: row.role,
    content: row.content,
    createdAt: row.created_at,
    ...ownerOf(row),
  };
}

export interface ProfileRow extends OwnerColumns {
  id: string;
  value: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export function toProfile(row: ProfileRow): StoredProfile {
  const profile: StoredProfile = {
    id: row.id,
    value: row.value,
    version: Number(row.version),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  return { ...profile, ...ownerOf(row) };
}

/** Columns of a memory row without the embedding, on the alias `m`. */
export const MEMORY_COLUMNS =
  "m.id, m.user_id, m.agent_id, m.run_id, m.text, m.hash, m.metadata, m.created_at, m.updated_at";
