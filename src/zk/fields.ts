import { z } from 'zod';

/** `host:port[,host:port...]` (an optional chroot is not supported). */
export const zkConnectString = z
  .string()
  .regex(/^[A-Za-z0-9.\-:[\]]+:\d{1,5}(,[A-Za-z0-9.\-:[\]]+:\d{1,5})*$/, 'must be host:port[,host:port...]');

/** An absolute znode path without a trailing slash. */
export const znodePath = z
  .string()
  .regex(/^(\/[^/\x00-\x1f\x7f]+)+$/, 'must be an absolute znode path such as /services/web (no trailing slash)')
  // ZooKeeper refuses relative segments when the path is used; say so when it is defined.
  .refine((p) => !p.split('/').some((seg) => seg === '.' || seg === '..'), 'must not contain . or .. segments');
