/**
 * A JSON-like object graph of about `bytes` bytes (as JSON) with shared references, the way an
 * API response built from records often is: records point at shared user and tag objects.
 * Deterministic, so every variant and every run encodes the same graph.
 */
export interface JsonGraph {
  version: number;
  users: Array<{ id: number; name: string; email: string; roles: string[] }>;
  tags: Array<{ tag: string; weight: number }>;
  records: unknown[];
}

export function jsonGraph(bytes: number): JsonGraph {
  const users = Array.from({ length: 50 }, (_, i) => ({
    id: i,
    name: `user-${i}`,
    email: `user${i}@example.com`,
    roles: ["reader", i % 3 === 0 ? "admin" : "writer"],
  }));
  const tags = Array.from({ length: 20 }, (_, i) => ({ tag: `tag-${i}`, weight: i / 7 }));
  const records: unknown[] = [];
  for (let i = 0, size = 0; size < bytes; i++, size += 340) {
    records.push({
      id: i,
      title: `Record number ${i} with some text`,
      author: users[i % users.length],
      tags: [tags[i % tags.length], tags[(i * 7) % tags.length]],
      score: Math.sqrt(i),
      active: i % 2 === 0,
      meta: { created: 1_700_000_000_000 + i, views: i * 13, ref: null },
    });
  }
  return { version: 3, users, tags, records };
}
