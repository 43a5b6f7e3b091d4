import type { MemoryScope } from "../scope.js";
import type {
  EdgeValidity,
  EntityMatch,
  GraphChange,
  GraphEdge,
  GraphEntity,
  GraphStore,
} from "./base.js";

/** The graph part of a store, synchronous (SQLite) or not (Postgres). */
export type GraphPart = {
  [K in keyof GraphStore]: (
    ...args: Parameters<GraphStore[K]>
  ) => Awaited<ReturnType<GraphStore[K]>> | ReturnType<GraphStore[K]>;
};

/**
 * The `GraphStore` methods of a store whose graph lives in a part of its own: subclasses
 * name the part, and every method is handed to it.
 */
export abstract class GraphDelegate implements GraphStore {
  /** The part holding the graph tables' queries. */
  protected abstract get graphPart(): GraphPart;

  async findEntitiesByName(scope: MemoryScope, names: string[]): Promise<GraphEntity[]> {
    return this.graphPart.findEntitiesByName(scope, names);
  }

  async entitiesMentionedIn(scope: MemoryScope, text: string): Promise<GraphEntity[]> {
    return this.graphPart.entitiesMentionedIn(scope, text);
  }

  async similarEntities(
    scope: MemoryScope,
    vector: number[],
    options: { topK: number; threshold: number },
  ): Promise<EntityMatch[]> {
    return this.graphPart.similarEntities(scope, vector, options);
  }

  async neighborhood(
    scope: MemoryScope,
    entityIds: string[],
    options: EdgeValidity & { hops: number },
  ): Promise<GraphEdge[]> {
    return this.graphPart.neighborhood(scope, entityIds, options);
  }

  async listEntities(scope: MemoryScope): Promise<GraphEntity[]> {
    return this.graphPart.listEntities(scope);
  }

  async listEdges(scope: MemoryScope, options?: EdgeValidity): Promise<GraphEdge[]> {
    return this.graphPart.listEdges(scope, options);
  }

  async getEdge(id: string): Promise<GraphEdge | undefined> {
    return this.graphPart.getEdge(id);
  }

  async applyGraph(changes: GraphChange[]): Promise<void> {
    await this.graphPart.applyGraph(changes);
  }
}
