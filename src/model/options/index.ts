import type { Feature } from './feature';
import { poolFeature } from './pool';
import { failFastFeature } from './fail-fast';
import { cacheFeature } from './cache';
import { fcgiFeature } from './fcgi';
import { priorityFeature } from './priority';
import { tlsFeature } from './tls';

/**
 * The typed key groups beyond the base ones in proxy-options.ts, in the order their
 * lines are rendered. Each file holds one group: its keys, its rules, its HAProxy lines.
 */
export const FEATURES: readonly Feature[] = [poolFeature, failFastFeature, cacheFeature, fcgiFeature, priorityFeature, tlsFeature];
