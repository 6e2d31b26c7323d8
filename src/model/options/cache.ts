import type { Feature } from './feature';

// Being built (issue 20): the keys, rules and HAProxy lines of this group.
export const cacheFeature: Feature = { keys: {}, compile: () => ({}) };
