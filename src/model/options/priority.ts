import { z } from 'zod';
import { needsHttp, type Feature } from './feature';
import { configWord } from './config-word';
import { hostName, pathPrefix, pathSuffix } from '../routing';

/**
 * Priority classes (classful scheduling): when the servers are at `server_maxconn` and
 * requests queue, the queued requests of a higher class are served first (a checkout
 * before page views). Requests that match no rule are class 0; a negative class goes
 * after them. Rules are tried in order; the first that matches sets the class.
 *
 * HAProxy's `http-request set-priority-class` serves LOWER values first (-2047..2047), so
 * our class N is rendered as HAProxy's -N. HAProxy runs every matching rule and the last
 * one wins, so the rules are rendered in reverse order: the first matching rule of the
 * blob is the last to run.
 */
export const MAX_CLASS = 2047;

// HTTP header names are tokens; this subset needs no quoting on a config line.
const headerName = z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be a header name such as X-Priority (letters, digits, -, _)');
// req.hdr() splits a header on commas and trims spaces around each value: such a value never matches.
const headerValue = z
  .string()
  .max(1024, 'must be at most 1024 characters')
  .regex(/^[\x21-\x2b\x2d-\x7e]([\x20-\x2b\x2d-\x7e]*[\x21-\x2b\x2d-\x7e])?$/, 'must be printable ASCII without commas or spaces at either end (HAProxy splits header values on commas)');

const match = z
  .strictObject({
    path_prefix: z.array(pathPrefix).min(1).max(100).optional(),
    path_suffix: z.array(pathSuffix).min(1).max(100).optional(),
    host: z.array(hostName).min(1).max(100).optional(),
    /** Without `value`: the header is present. */
    header: z.strictObject({ name: headerName, value: headerValue.optional() }).optional(),
  })
  .refine((m) => m.path_prefix || m.path_suffix || m.host || m.header, 'must name at least one of path_prefix, path_suffix, host, header');

const rule = z.strictObject({
  match,
  class: z.int('must be an integer').min(-MAX_CLASS, `must be ${-MAX_CLASS}..${MAX_CLASS}`).max(MAX_CLASS, `must be ${-MAX_CLASS}..${MAX_CLASS}`),
});

type Rule = z.infer<typeof rule>;

export const priorityFeature: Feature = {
  keys: {
    priority: z.array(rule).min(1, 'must have at least one rule').max(100, 'must have at most 100 rules').optional(),
  },

  problems: (o) => needsHttp(o, 'priority'),

  compile(o) {
    const rules = o.priority as Rule[] | undefined;
    if (!rules?.length) return {};
    const acls: string[] = [];
    const sets: string[] = [];
    rules.forEach((r, i) => {
      const id = `pm_prio${i + 1}`;
      const terms: string[] = [];
      const m = r.match;
      // Paths: a prefix or a suffix (two lines of one ACL are ORed); host and header ANDed with them.
      if (m.path_prefix) acls.push(`acl ${id}_path path_beg -- ${m.path_prefix.map(configWord).join(' ')}`);
      if (m.path_suffix) acls.push(`acl ${id}_path path_end -- ${m.path_suffix.map(configWord).join(' ')}`);
      if (m.path_prefix || m.path_suffix) terms.push(`${id}_path`);
      if (m.host) {
        acls.push(`acl ${id}_host req.hdr(host),field(1,:),lower -m str -- ${m.host.join(' ')}`);
        terms.push(`${id}_host`);
      }
      if (m.header) {
        const h = m.header;
        acls.push(h.value === undefined ? `acl ${id}_header req.hdr(${h.name}) -m found` : `acl ${id}_header req.hdr(${h.name}) -m str -- ${configWord(h.value)}`);
        terms.push(`${id}_header`);
      }
      sets.push(`http-request set-priority-class int(${-r.class || 0}) if ${terms.join(' ')}`);
    });
    return { listen: [...acls, ...sets.reverse()] };
  },
};
