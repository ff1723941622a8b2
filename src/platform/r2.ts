/** Prefix operations on an R2 bucket, a listing page (≤ 1000 keys) at a time. */

/** Keys under a prefix, a page (≤ 1000) at a time: never the whole bucket in memory. */
export async function* listKeyPages(bucket: R2Bucket, prefix: string): AsyncGenerator<string[]> {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, limit: 1000 });
    if (page.objects.length > 0) yield page.objects.map((object) => object.key);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

/** Objects (key, size, upload time) under a prefix, a listing page at a time. */
export async function listObjects(bucket: R2Bucket, prefix: string): Promise<R2Object[]> {
  const objects: R2Object[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, limit: 1000 });
    objects.push(...page.objects);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return objects;
}

export async function listAllKeys(bucket: R2Bucket, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const page of listKeyPages(bucket, prefix)) keys.push(...page);
  return keys;
}

/** Deletes everything under a prefix, 1000 keys per call (R2's limit); returns how many went. */
export async function deletePrefix(bucket: R2Bucket, prefix: string): Promise<number> {
  let deleted = 0;
  // List then delete page by page: a deleted page does not shift R2's cursor for the next one.
  for await (const page of listKeyPages(bucket, prefix)) {
    await bucket.delete(page);
    deleted += page.length;
  }
  return deleted;
}
