import type { ServiceStatus } from '../../../src/agent/service-table';
import { statusOf, UnknownView } from '../../../src/api/status';

const svc = (name: string, over: Partial<ServiceStatus> = {}): ServiceStatus => {
  const problems = over.problems ?? [];
  return { name, origin: 'test', port: 8000, type: 'static', servers: 1, sourceUp: true, warnings: [], ...over, problems, ok: over.ok ?? problems.length === 0 };
};

const names = (body: { errors: Array<{ service?: string }> }) => body.errors.map((e) => e.service);

describe('statusOf', () => {
  test('all services fine: counts and good, no view key', () => {
    const body = statusOf([svc('a'), svc('b'), svc('c')], [], {});
    expect(body).toEqual({ num_ok: 3, num_error: 0, has_error: false, good: true, errors: [], warnings: [] });
    // Without a view the body must not carry a `view` key at all (not even undefined).
    expect('view' in body).toBe(false);
  });

  test('no services at all is good', () => {
    expect(statusOf([], [], {})).toMatchObject({ num_ok: 0, num_error: 0, has_error: false, good: true });
  });

  test('a service with problems is an error, each problem listed with the service name', () => {
    const body = statusOf([svc('a'), svc('b', { problems: ['bad port', 'port conflict'] }), svc('c')], [], {});
    expect(body).toMatchObject({ num_ok: 2, num_error: 1, has_error: true, good: false });
    expect(body.errors).toEqual([
      { service: 'b', problem: 'bad port' },
      { service: 'b', problem: 'port conflict' },
    ]);
  });

  test('agent problems count against every view and come without a service', () => {
    const views = { web: ['web-*'], none: ['nomatch'] };
    const services = [svc('web-a'), svc('db', { problems: ['db down'] })];
    const whole = statusOf(services, ['reload failing', 'HAProxy down'], views);
    expect(whole).toMatchObject({ num_ok: 1, num_error: 3, has_error: true, good: false });
    expect(whole.errors).toEqual([{ problem: 'reload failing' }, { problem: 'HAProxy down' }, { service: 'db', problem: 'db down' }]);
    // Agent-wide errors have no `service` key at all.
    expect('service' in whole.errors[0]).toBe(false);

    // A view with only healthy services is still bad while the agent is.
    const web = statusOf(services, ['reload failing'], views, 'web');
    expect(web).toMatchObject({ num_ok: 1, num_error: 1, has_error: true, good: false, view: 'web' });
    expect(web.errors).toEqual([{ problem: 'reload failing' }]);

    // Even a view matching nothing.
    expect(statusOf(services, ['reload failing'], views, 'none')).toMatchObject({ num_ok: 0, num_error: 1, good: false });
  });

  test('warnings are listed but do not make the status bad', () => {
    const body = statusOf([svc('a', { warnings: ['source down (since x)'], sourceUp: false }), svc('b')], [], {});
    expect(body).toMatchObject({ num_ok: 2, num_error: 0, has_error: false, good: true, errors: [] });
    expect(body.warnings).toEqual([{ service: 'a', problem: 'source down (since x)' }]);
  });

  test('warnings and problems on the same service both appear', () => {
    const body = statusOf([svc('a', { problems: ['rejected'], warnings: ['source slow'] })], [], {});
    expect(body.good).toBe(false);
    expect(body.errors).toEqual([{ service: 'a', problem: 'rejected' }]);
    expect(body.warnings).toEqual([{ service: 'a', problem: 'source slow' }]);
  });

  test('ok false with no problem text still counts as an error', () => {
    // The verdict follows `ok`, not the number of messages.
    expect(statusOf([svc('a', { ok: false })], [], {})).toMatchObject({ num_ok: 0, num_error: 1, good: false, errors: [] });
  });
});

describe('statusOf views', () => {
  const all = ['web', 'web-a', 'web-b', 'xweb-a', 'api', 'a.b', 'axb', 'db'].map((n) => svc(n, { problems: [`${n} broken`] }));
  const pick = (patterns: string[]) => {
    const body = statusOf(all, [], { v: patterns }, 'v');
    return names(body);
  };

  test('exact names', () => {
    expect(pick(['api', 'db'])).toEqual(['api', 'db']);
    // Exact means whole name: `web` does not pull in `web-a`.
    expect(pick(['web'])).toEqual(['web']);
  });

  test('`*` matches any run, anchored at both ends', () => {
    expect(pick(['web-*'])).toEqual(['web-a', 'web-b']);
    expect(pick(['*web*'])).toEqual(['web', 'web-a', 'web-b', 'xweb-a']);
    expect(pick(['*-a'])).toEqual(['web-a', 'xweb-a']);
    expect(pick(['*'])).toEqual(all.map((s) => s.name));
  });

  test('`.` is literal', () => {
    expect(pick(['a.b'])).toEqual(['a.b']);
    expect(pick(['a.*'])).toEqual(['a.b']);
  });

  test('other regex metacharacters are literal', () => {
    const odd = ['a+', 'aa', 'a?', 'a', '(a)', 'a|b', 'b', '[ab]', 'a$'].map((n) => svc(n, { problems: ['x'] }));
    const sel = (p: string) => names(statusOf(odd, [], { v: [p] }, 'v'));
    expect(sel('a+')).toEqual(['a+']);
    expect(sel('a?')).toEqual(['a?']);
    expect(sel('(a)')).toEqual(['(a)']);
    expect(sel('a|b')).toEqual(['a|b']);
    expect(sel('[ab]')).toEqual(['[ab]']);
    expect(sel('a$')).toEqual(['a$']);
  });

  test('counts only the chosen services', () => {
    const services = [svc('web-a'), svc('web-b', { problems: ['down'] }), svc('db', { problems: ['down'] }), svc('api', { warnings: ['slow'] })];
    const body = statusOf(services, [], { web: ['web-*'] }, 'web');
    expect(body).toEqual({
      num_ok: 1,
      num_error: 1,
      has_error: true,
      good: false,
      view: 'web',
      errors: [{ service: 'web-b', problem: 'down' }],
      warnings: [],
    });
  });

  test('an unknown view throws UnknownView listing the configured views', () => {
    const views = { web: ['web-*'], db: ['db'] };
    expect(() => statusOf([], [], views, 'nope')).toThrow(UnknownView);
    expect(() => statusOf([], [], views, 'nope')).toThrow('no view nope (configured: web, db)');
    expect(() => statusOf([], [], {}, 'nope')).toThrow('no view nope (configured: none)');
  });

  test.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('a view named %s is unknown, not a crash', (view) => {
    let caught: unknown;
    try {
      statusOf([svc('a')], [], { web: ['web'] }, view);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UnknownView);
    expect((caught as Error).message).toBe(`no view ${view} (configured: web)`);
  });
});
