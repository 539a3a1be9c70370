import type { Env } from "../env";
import type { NodeRow } from "../db/schema";
import { findNode, type NodeQuery, pageOfNodes, snapshotOf } from "../db/nodes";
import { notFound, forbidden } from "../lib/errors";
import type { AuthUser } from "../lib/auth";
import { regionStub } from "../region/client";
import { nodeView } from "../views/nodes";

export async function loadNode(d1: D1Database, id: string) {
  const found = await findNode(d1, id);
  if (!found) throw notFound("node");
  return found;
}

/** The owner (or an admin) may change a node; anyone else gets 403. */
export function assertOwner(user: AuthUser, node: NodeRow) {
  if (user.role !== "admin" && node.providerId !== user.id) throw forbidden("this node belongs to another provider");
}

/** Tells the region DO about the node's current row. */
export async function syncNode(env: Env, node: NodeRow) {
  return regionStub(env, node.region).upsertNode(snapshotOf(node));
}

/** A page of nodes with their live held/available figures, computed in one query from D1. */
/** `viewer`: who asks; their own nodes (all of them, for an admin) show the lease endpoint. */
export async function queryNodes(env: Env, f: NodeQuery, limit: number, offset: number, viewer?: AuthUser) {
  const page = await pageOfNodes(env.DB, f, limit, offset);
  const nodesOut = page.rows.map((r) =>
    nodeView(r.node, r.offer, r.heldRam, r.heldVram, {
      withEndpoint: viewer !== undefined && (viewer.role === "admin" || viewer.id === r.node.providerId),
    }),
  );
  return { nodes: nodesOut, total_count: page.total };
}
