import type { ServerResponse } from 'node:http';
import type { Versioned } from '../store/revisioned-store';

/** A record as the API returns it: its fields plus `revision`, which clients send back in If-Match. */
export type View<T> = T & { revision: number };

export function view<T extends object>(v: Versioned<T>): View<T> {
  return { ...v.value, revision: v.revision };
}

/** A single-record response, with the revision also as an ETag. */
export function viewWithEtag<T extends object>(res: ServerResponse, v: Versioned<T>): View<T> {
  res.setHeader('ETag', `"${v.revision}"`);
  return view(v);
}
